"""The store of flagged drawings: imagefolder layout, safe writes, Hub sync, and back into training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from digit_core.data import load_extra_folder
from digit_core.errors import InvalidImageError, InvalidLabelError
from digit_core.flagging import FlagStore, read_flags
from digit_core.framing import to_mnist_frame
from digit_core.reading import read_digits
from scripts import flags as flags_script
from tests.conftest import ROOT
from tests.drawing import draw_on_canvas
from tests.hub_standin import RecordingHfApi


@pytest.fixture(scope="module")
def drawings(mnist_test):
    return [(draw_on_canvas(mnist_test.images[i], digit_height=240, brush=18), int(mnist_test.labels[i])) for i in range(6)]


def test_each_flag_is_an_image_and_a_whole_metadata_line(tmp_path, drawings):
    store = FlagStore(tmp_path)
    image, label = drawings[0]
    frame = to_mnist_frame(image)
    sample_id = store.add(image, label=label, frame=frame, predicted=1, probabilities=[0.1] * 10, model_id="starter", source="draw")
    (metadata,) = tmp_path.glob("samples/*/metadata.jsonl")
    (line,) = [json.loads(text) for text in metadata.read_text().splitlines()]
    assert line["file_name"] == f"{sample_id}.png" and line["label"] == label and line["predicted"] == 1
    assert set(line) >= {"frame", "probabilities", "model_id", "model_revision", "source", "timestamp", "verdict"}
    assert np.abs(np.asarray(line["frame"]) / 255 - frame).max() <= 0.5 / 255 + 1e-6
    assert Image.open(metadata.parent / line["file_name"]).size == image.size
    assert (tmp_path / "README.md").read_text().startswith("---\nlicense:")


def test_layout_is_what_imagefolder_and_the_training_loader_read(tmp_path, drawings):
    store = FlagStore(tmp_path)
    for image, label in drawings:
        store.add(image, label=label)
    entries = []
    for metadata in tmp_path.glob("samples/*/metadata.jsonl"):
        for line in metadata.read_text().splitlines():
            entry = json.loads(line)
            Image.open(metadata.parent / entry["file_name"]).verify()  # every file_name is a real image
            entries.append(entry)
    assert sorted(e["label"] for e in entries) == sorted(label for _, label in drawings)
    extra = load_extra_folder(tmp_path)
    assert sorted(extra.labels.tolist()) == sorted(label for _, label in drawings) and extra.skipped == []


@pytest.mark.parametrize("label", [10, -1, "seven", 3.5, True, None])
def test_a_label_outside_0_to_9_is_refused_and_nothing_written(tmp_path, drawings, label):
    with pytest.raises(InvalidLabelError, match="expected an integer 0-9"):
        FlagStore(tmp_path).add(drawings[0][0], label=label)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_drawing_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(InvalidImageError, match="blank"):
        FlagStore(tmp_path).add(np.zeros((400, 400, 4), dtype=np.uint8), label=3)
    assert list(tmp_path.iterdir()) == []


def test_a_writer_killed_mid_flag_leaves_no_entry_a_reader_takes(tmp_path):
    writer = textwrap.dedent(
        f"""
        import sys, numpy as np
        sys.path.insert(0, {str(ROOT)!r})
        from digit_core.flagging import FlagStore
        store = FlagStore({str(tmp_path)!r}, writer="victim")
        image = np.full((300, 300), 255, np.uint8); image[50:250, 140:160] = 0
        print("ready", flush=True)
        for i in range(100000):
            store.add(image, label=1)
        """
    )
    for delay in (0.35, 0.6, 0.9):
        process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        samples = read_flags(tmp_path)
        metadata = tmp_path / "samples" / "victim" / "metadata.jsonl"
        lines = metadata.read_text().splitlines()
        assert len(samples) == len(lines) > 0  # every line parses and its image exists
        assert metadata.read_text().endswith("\n")
        for sample in samples:
            Image.open(sample.path).verify()
    assert len(load_extra_folder(tmp_path).labels) == 1  # identical drawings: one sample, no broken file read


def test_commit_scheduler_pushes_the_folder_through_the_given_client(tmp_path, drawings):
    api = RecordingHfApi()
    store = FlagStore.with_hub_sync(tmp_path, repo_id="someone/digit-flags", token="hf_test_token", api=api)
    try:
        store.add(drawings[0][0], label=drawings[0][1])
        store.scheduler.push_to_hub()
    finally:
        store.scheduler.stop()
    assert api.repos[0]["repo_id"] == "someone/digit-flags" and api.repos[0]["repo_type"] == "dataset"
    pushed = api.commits[-1]["files"]
    assert "README.md" in pushed and any(name.endswith("metadata.jsonl") for name in pushed)
    assert sum(name.endswith(".png") for name in pushed) == 1


def test_without_a_repo_or_token_nothing_is_scheduled(tmp_path):
    assert FlagStore.with_hub_sync(tmp_path, repo_id=None, token="x").scheduler is None
    assert FlagStore.with_hub_sync(tmp_path, repo_id="someone/flags", token=None).scheduler is None


def test_flags_script_counts_labels_and_pairs_and_writes_a_contact_sheet(tmp_path, drawings, capsys):
    store = FlagStore(tmp_path / "flags")
    for image, label in drawings[:4]:
        store.add(image, label=label, predicted=(label + 1) % 10, frame=to_mnist_frame(image))
    store.add(drawings[4][0], label=drawings[4][1], predicted=drawings[4][1], verdict="correct")
    sheet = tmp_path / "sheet.png"
    assert flags_script.main([str(tmp_path / "flags"), "--sheet", str(sheet), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == 5 and summary["verdicts"] == {"wrong": 4, "correct": 1}
    label, predicted = drawings[0][1], (drawings[0][1] + 1) % 10
    assert summary["wrong_pairs"][f"{predicted}->{label}"] >= 1
    assert Image.open(sheet).size[0] > 0


def slashed_zero(rng: np.random.Generator) -> Image.Image:
    """A zero with a long slash through it, as programmers write it; the starter reads it as an 8."""
    from PIL import ImageDraw

    image = Image.new("L", (400, 400), 255)
    draw = ImageDraw.Draw(image)
    jitter = lambda: int(rng.integers(-12, 13))  # noqa: E731
    width = int(rng.integers(16, 26))
    draw.ellipse([140 + jitter(), 70 + jitter(), 260 + jitter(), 330 + jitter()], outline=0, width=width)
    draw.line([(90 + jitter(), 385 + jitter()), (310 + jitter(), 15 + jitter())], fill=0, width=width)
    return image


def test_flagged_style_is_learned_by_the_next_model(tmp_path, mnist_dir, small_model):
    from scripts import train

    rng = np.random.default_rng(4)
    flagged = [slashed_zero(rng) for _ in range(30)]
    held_out = [slashed_zero(rng) for _ in range(20)]
    before = np.mean([_digit(small_model, image) == 0 for image in held_out])  # MNIST alone, no flags
    store = FlagStore(tmp_path / "flags")
    for image in flagged:
        store.add(image, label=0, predicted=_digit(small_model, image))
    out = tmp_path / "model"
    assert train.main(["--mnist", str(mnist_dir), "--extra", str(tmp_path / "flags"), "--out", str(out), "--limit", "3000", "--test-limit", "300", "--n-jobs", "1"]) == 0
    from digit_core.persistence import load_model

    after_model = load_model(out / "model.skops")
    after = np.mean([_digit(after_model, image) == 0 for image in held_out])
    print(f"slashed zeros read right: MNIST only {before:.0%}, retrained with the flags {after:.0%}")
    assert before <= 0.5 and after >= 0.9


def _digit(model, image) -> int:
    return read_digits(model, image, single=True).digits[0].digit
