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

from digit_core.errors import FlagStoreError, InvalidImageError, InvalidLabelError
from digit_core.flags import FlagStore, load_extra_folder, read_flags
from digit_core.framing import to_mnist_frame
from digit_core.reading import read_digits
from tests.conftest import ROOT
from tests.drawing import draw_on_canvas
from tests.hub_standin import RecordingHfApi
from tests.script_runner import load_script

flags_script = load_script("flags")


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
    assert {e["status"] for e in entries} == {"pending"}
    store.review([s.id for s in read_flags(tmp_path)], "accepted")
    extra = load_extra_folder(tmp_path)
    assert sorted(extra.labels.tolist()) == sorted(label for _, label in drawings) and extra.skipped == []


def test_every_flag_waits_for_review_and_only_accepted_ones_train(tmp_path, drawings):
    store = FlagStore(tmp_path)
    ids = [store.add(image, label=label) for image, label in drawings]
    extra = load_extra_folder(tmp_path)
    assert len(extra.labels) == 0 and extra.pending_skipped == len(drawings)
    store.review(ids[:2], "accepted")
    store.review(ids[2:3], "rejected", reason="not a digit")
    store.review(ids[1:2], "rejected")  # the latest decision wins
    extra = load_extra_folder(tmp_path)
    assert extra.labels.tolist() == [drawings[0][1]]
    assert (extra.pending_skipped, extra.rejected_skipped) == (3, 2)
    assert store.counts() == {"pending": 3, "accepted": 1, "rejected": 2}
    assert FlagStore(tmp_path).counts() == store.counts()  # a new process reads the same


def test_a_flag_appends_one_line_and_never_rewrites_the_others(tmp_path, drawings):
    store = FlagStore(tmp_path, writer="w")
    store.add(drawings[0][0], label=drawings[0][1])
    metadata = tmp_path / "samples" / "w" / "metadata.jsonl"
    before, inode = metadata.read_bytes(), metadata.stat().st_ino
    store.add(drawings[1][0], label=drawings[1][1])
    after = metadata.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == 2 and metadata.stat().st_ino == inode


def test_a_line_cut_short_by_a_crash_does_not_swallow_the_next_flag(tmp_path, drawings):
    store = FlagStore(tmp_path, writer="w")
    store.add(drawings[0][0], label=drawings[0][1])
    metadata = tmp_path / "samples" / "w" / "metadata.jsonl"
    with open(metadata, "ab") as handle:
        handle.write(b'{"file_name": "half')  # what a crash mid-write could leave
    store.add(drawings[1][0], label=drawings[1][1])
    assert sorted(s.label for s in read_flags(tmp_path)) == sorted([drawings[0][1], drawings[1][1]])


def test_a_full_store_refuses_with_a_clear_message_and_writes_nothing(tmp_path, drawings):
    store = FlagStore(tmp_path, max_samples=2)
    store.add(drawings[0][0], label=1)
    store.add(drawings[1][0], label=2)
    with pytest.raises(FlagStoreError, match="flag store is full \\(2 samples\\)"):
        store.add(drawings[2][0], label=3)
    assert len(read_flags(tmp_path)) == 2 and len(list(tmp_path.glob("samples/*/*.png"))) == 2


def test_a_full_disk_is_named_and_leaves_no_image_behind(tmp_path, drawings):
    store = FlagStore(tmp_path, writer="w")
    kept = store.add(drawings[0][0], label=1)
    metadata = store.folder / "metadata.jsonl"
    metadata.unlink()
    metadata.symlink_to("/dev/full")  # every write there fails with ENOSPC, as on a full disk
    with pytest.raises(FlagStoreError, match="could not save: the disk is full"):
        store.add(drawings[1][0], label=2)
    assert [p.stem for p in store.folder.glob("*.png")] == [kept] and list(tmp_path.rglob("*.tmp")) == []


def test_a_flag_folder_that_cannot_be_written_is_reported_at_start(tmp_path, drawings):
    blocker = tmp_path / "flags"
    blocker.write_text("a file where the folder should be")
    store = FlagStore(blocker / "inside")
    assert "flags cannot be saved" in store.check_writable() and "Not a directory" in store.check_writable()
    with pytest.raises(FlagStoreError, match="could not save: .*Not a directory"):
        store.add(drawings[0][0], label=1)
    assert FlagStore(tmp_path / "fine").check_writable() is None


def test_orphans_of_an_interrupted_write_are_cleaned_at_start(tmp_path, drawings):
    store = FlagStore(tmp_path, writer="w")
    kept = store.add(drawings[0][0], label=1)
    orphan = store.folder / "0123.png"
    orphan.write_bytes((store.folder / f"{kept}.png").read_bytes())
    leftover = store.folder / ".metadata.jsonl.abc.tmp"
    leftover.write_bytes(b"x")
    fresh = store.folder / ".fresh.tmp"  # another process may be writing this one right now
    fresh.write_bytes(b"x")
    old = time.time() - 3600
    for path in (orphan, leftover):
        os.utime(path, (old, old))
    assert store.clean_orphans() == 2
    assert not orphan.exists() and not leftover.exists() and fresh.exists()
    assert [s.id for s in read_flags(tmp_path)] == [kept]


@pytest.mark.parametrize("label", [10, -1, "seven", 3.5, True, None])
def test_a_label_outside_0_to_9_is_refused_and_nothing_written(tmp_path, drawings, label):
    with pytest.raises(InvalidLabelError, match="expected an integer 0-9"):
        FlagStore(tmp_path).add(drawings[0][0], label=label)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_drawing_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(InvalidImageError, match="blank"):
        FlagStore(tmp_path).add(np.zeros((400, 400, 4), dtype=np.uint8), label=3)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_writer_killed_mid_flag_leaves_no_entry_a_reader_takes(tmp_path):
    writer = textwrap.dedent(
        f"""
        import numpy as np
        from digit_core.flags import FlagStore
        store = FlagStore({str(tmp_path)!r}, writer="victim")
        image = np.full((300, 300), 255, np.uint8); image[50:250, 140:160] = 0
        print("ready", flush=True)
        for i in range(100000):
            store.add(image, label=1)
        """
    )
    for delay in (0.35, 0.6, 0.9):
        process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
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
    FlagStore(tmp_path).review([s.id for s in read_flags(tmp_path)], "accepted")
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


def test_flags_script_counts_labels_pairs_and_statuses_and_writes_a_contact_sheet(tmp_path, drawings, capsys):
    store = FlagStore(tmp_path / "flags")
    for image, label in drawings[:4]:
        store.add(image, label=label, predicted=(label + 1) % 10, frame=to_mnist_frame(image))
    store.add(drawings[4][0], label=drawings[4][1], predicted=drawings[4][1], verdict="correct")
    sheet = tmp_path / "sheet.png"
    assert flags_script.main([str(tmp_path / "flags"), "--sheet", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "5 flagged samples" in out and "5 pending, 0 accepted, 0 rejected" in out
    label, predicted = drawings[0][1], (drawings[0][1] + 1) % 10
    assert f"read {predicted}, was {label}" in out
    assert Image.open(sheet).size[0] > 0
    assert flags_script.main([str(tmp_path / "flags"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"pending": 5, "accepted": 0, "rejected": 0}


def test_review_shows_the_suspicious_first_and_accepts_or_rejects_by_id_or_in_bulk(tmp_path, drawings, capsys):
    folder = tmp_path / "flags"
    store = FlagStore(folder)
    ids = [store.add(image, label=label, frame=to_mnist_frame(image)) for image, label in drawings[:4]]
    odd = store.add(drawings[4][0], label=3, suspicion=["the model was 99% sure it is a 4"])
    sheet = tmp_path / "review.png"
    assert flags_script.main(["review", str(folder), "--sheet", str(sheet)]) == 0
    listing = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert listing[0] == odd[:8] and len(listing) == 5 and Image.open(sheet).size[0] > 0
    assert flags_script.main(["review", str(folder), "--accept", ids[0][:6], ids[1], "--reject", "suspicious", "--sheet", str(sheet)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"pending": 2, "accepted": 2, "rejected": 1}
    assert flags_script.main(["review", str(folder), "--accept", "all", "--sheet", str(sheet)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"pending": 0, "accepted": 4, "rejected": 1}
    assert flags_script.main(["review", str(folder), "--accept", "ffffffff"]) == 2
    assert "matches no sample" in capsys.readouterr().err


def test_train_dry_run_counts_what_review_left_out(tmp_path, drawings, capsys):
    train = load_script("train")

    store = FlagStore(tmp_path / "flags")
    ids = [store.add(image, label=label) for image, label in drawings[:5]]
    store.review(ids[:2], "accepted")
    store.review(ids[2:3], "rejected")
    assert train.main(["--extra", str(tmp_path / "flags"), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1]) == {"added": 2, "pending_skipped": 2, "rejected_skipped": 1}
    assert any("left out until reviewed: 2 pending, 1 rejected" in line for line in out)


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


@pytest.mark.slow
def test_flagged_style_is_learned_by_the_next_model(tmp_path, mnist_dir, small_model):
    train = load_script("train")

    rng = np.random.default_rng(4)
    flagged = [slashed_zero(rng) for _ in range(30)]
    held_out = [slashed_zero(rng) for _ in range(20)]
    before = np.mean([_digit(small_model, image) == 0 for image in held_out])  # MNIST alone, no flags
    store = FlagStore(tmp_path / "flags")
    for image in flagged:
        store.add(image, label=0, predicted=_digit(small_model, image))
    assert flags_script.main(["review", str(tmp_path / "flags"), "--accept", "all", "--sheet", str(tmp_path / "review.png")]) == 0
    out = tmp_path / "model"
    assert train.main(["--mnist", str(mnist_dir), "--extra", str(tmp_path / "flags"), "--out", str(out), "--limit", "3000", "--test-limit", "300", "--n-jobs", "1"]) == 0
    from digit_core.persistence import load_model

    after_model = load_model(out / "model.skops")
    after = np.mean([_digit(after_model, image) == 0 for image in held_out])
    print(f"slashed zeros read right: MNIST only {before:.0%}, retrained with the flags {after:.0%}")
    assert before <= 0.5 and after >= 0.9


def _digit(model, image) -> int:
    return read_digits(model, image, single=True).digits[0].digit
