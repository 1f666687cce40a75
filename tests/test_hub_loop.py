"""The loop on the Hub, offline and for real: people's flags reach a Hub dataset, a review accepts
them, a model trains from that dataset's revision in the Hub cache, promotion refuses a worse
candidate and publishes a better one, and the running app swaps to it without failing a request.

The Hub is played by the one stand-in, ``RecordingHfApi``, at the network boundary: it lays each
commit and tag out in huggingface_hub's real cache layout, and the real ``hf_hub_download`` and
``snapshot_download`` read them with ``HF_HUB_OFFLINE`` set.
"""

from __future__ import annotations

import json
import shutil
import threading
import time

import numpy as np
import pytest
from huggingface_hub import constants

from digit_core.config import STARTER_MODEL_PATH
from digit_core.errors import DatasetError
from digit_core.flags import FlagStore
from digit_core.framing import to_mnist_frame
from digit_core.hub import PROMOTED_TAG, ModelFollower, download_dataset, parse_dataset_spec, resolve_model
from digit_core.persistence import load_model
from digit_core.promotion import PromotionReport, SetComparison
from digit_core.reading import read_digits
from digit_core.real_data import UNIPEN_HELD_OUT_SITES
from digit_core.strokes import draw_strokes
from PIL import Image
from tests.conftest import ROOT
from tests.hub_standin import RecordingHfApi
from tests.script_runner import load_script

flags_script, loop, promote, train = (load_script(name) for name in ("flags", "loop", "promote", "train"))
write_pen_set = load_script("evaluate").write_pen_set
from web import handlers

MODELS = "someone/digit-svc"
FLAGS = "someone/digit-flags"


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty Hub cache, HF_HUB_OFFLINE on, and the stand-in client that fills the cache."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return RecordingHfApi(cache=cache)


def flag_pen_drawings(store: FlagStore, pen, indices) -> None:
    """People draw real pen digits on the canvas and flag them, as the app stores them."""
    rng = np.random.default_rng(0)
    for index in indices:
        drawing = Image.fromarray(draw_strokes(pen.strokes(index), height=rng.uniform(120, 280), brush=rng.uniform(15, 28)), "RGBA")
        store.add(drawing, label=int(pen.labels[index]), frame=to_mnist_frame(drawing), model_id="starter", source="draw")


def train_candidate(mnist_dir, out, dataset: str, limit: int) -> None:
    argv = ["--mnist", str(mnist_dir), "--extra", dataset, "--out", str(out), "--limit", str(limit), "--test-limit", "300", "--n-jobs", "1"]
    assert train.main(argv) == 0


@pytest.mark.slow
def test_flags_become_a_promoted_model_that_the_app_swaps_to(tmp_path, offline_hub, mnist_dir, pen, capsys):
    api = offline_hub
    # 1. People flag drawings; the store's CommitScheduler pushes them to the Hub dataset.
    flag_dir = tmp_path / "flags"
    store = FlagStore.with_hub_sync(flag_dir, repo_id=FLAGS, token=None, api=api, every_minutes=60)
    training_sites = np.flatnonzero(~np.isin(pen.sources, UNIPEN_HELD_OUT_SITES))
    flag_pen_drawings(store, pen, training_sites[::40][:60])
    # 2. A reviewer accepts them; the decisions reach the dataset too.
    assert flags_script.main(["review", str(flag_dir), "--accept", "all", "--sheet", str(tmp_path / "sheet.png")]) == 0
    store.scheduler.push_to_hub()
    store.scheduler.stop()
    revision = (api.cache / f"datasets--{FLAGS.replace('/', '--')}" / "refs" / "main").read_text()
    dataset = f"hf://datasets/{FLAGS}@{revision}"

    # Golden set: real drawings by writers nobody trained on, seeded into the model repository once.
    golden = tmp_path / "golden"
    held_out_writers = np.flatnonzero(np.isin(pen.sources, UNIPEN_HELD_OUT_SITES))[::60][:40]
    write_pen_set(pen.subset(np.isin(np.arange(len(pen)), held_out_writers)), golden)
    common = ["--repo", MODELS, "--mnist", str(mnist_dir), "--test-limit", "1000"]

    # 3. The scheduled command: pin the dataset's newest revision, train from it through the Hub
    # cache, promote. Nothing is served yet: the first candidate is promoted on its own figures.
    first = tmp_path / "first"
    assert loop.main(["--flags", f"hf://datasets/{FLAGS}", *common, "--limit", "1000", "--golden", str(golden), "--out", str(first)], api=api) == 0
    first_commit = capsys.readouterr().out.strip().splitlines()[-1]
    assert api.model_info(MODELS, revision=PROMOTED_TAG).sha == first_commit
    card = (first / "README.md").read_text()
    assert f"`{FLAGS}` at revision `{revision}`" in card and "60 accepted" in card

    # The app serves the promoted revision, from the Hub cache.
    import app as digit_app

    served = resolve_model(model_path=None, repo_id=MODELS, revision=PROMOTED_TAG)
    assert served.source == "hub" and served.revision == first_commit and served.promoted_at
    context = handlers.AppContext.create(served, flag_dir=tmp_path / "app-flags")
    follower = ModelFollower(MODELS, current=served.revision, swap=context.swap, api=api)
    assert follower.check() is None  # nothing newer

    # 4. A worse candidate (trained on far fewer images) is refused; nothing is published.
    worse = tmp_path / "worse"
    train_candidate(mnist_dir, worse, dataset, limit=200)
    commits = len(api.commits)
    assert promote.main([str(worse), *common], api=api) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "MNIST test: the candidate reads" in out and "the served model" in out
    assert len(api.commits) == commits and api.model_info(MODELS, revision=PROMOTED_TAG).sha == first_commit

    # 5. A better candidate is promoted: the golden set from the repository, the flags its card names.
    better = tmp_path / "better"
    shutil.copytree(STARTER_MODEL_PATH.parent, better)
    assert promote.main([str(better), *common, "--flags", dataset], api=api) == 0
    out = capsys.readouterr().out
    better_commit = out.strip().splitlines()[-1]
    assert "| golden set | 40 |" in out and "| held-out flags |" in out and "| MNIST test | 1000 |" in out
    published = api.commits[-1]["files"]
    assert {"model.skops", "README.md", "golden/labels.csv"} <= set(published)
    published_card = published["README.md"].decode()
    assert "## Promotion" in published_card and "golden set (promotion check)" in published_card and first_commit in published_card

    # 6. The app follows the promoted tag and swaps to the new model in memory.
    drawing = Image.open(next(golden.glob("*.png")))
    swapped = follower.check()
    assert swapped is not None and context.loaded.revision == better_commit
    expected = read_digits(load_model(STARTER_MODEL_PATH), drawing, single=True).digits[0].top(3)
    assert handlers.classify_digit(context, str(next(golden.glob("*.png")))) == expected
    assert "Promoted" in digit_app.about_text(context.loaded)


def test_promotion_refuses_a_candidate_0_3_points_worse_on_mnist_naming_the_set_and_both_figures():
    report = PromotionReport([SetComparison("MNIST test", 10000, candidate=0.9920, served=0.9950)], served_revision="a" * 40)
    assert report.refused
    (reason,) = report.refusals
    assert reason.startswith("MNIST test:") and "99.20%" in reason and "99.50%" in reason and "-0.30 points" in reason


def test_promotion_allows_noise_within_the_tolerance_and_one_image_on_a_small_set():
    report = PromotionReport(
        [SetComparison("MNIST test", 10000, candidate=0.9946, served=0.9950), SetComparison("golden set", 40, candidate=0.95, served=0.975)]
    )
    assert not report.refused


@pytest.mark.slow
def test_swapping_models_under_20_clients_fails_no_request_and_mixes_no_models(tmp_path, small_model, starter_model, mnist_test):
    """Every answer is exactly one whole model's answer, while the served model changes underneath."""
    import app as digit_app
    from gradio_client import Client, handle_file

    from tests.drawing import draw_on_canvas

    # A digit the two models read with different probabilities.
    image_path = tmp_path / "digit.png"
    draw_on_canvas(mnist_test.images[0], digit_height=200, brush=20).save(image_path)
    answers = {name: read_digits(model, Image.open(image_path), single=True).digits[0].top(3) for name, model in
               (("small", small_model), ("starter", starter_model))}
    assert answers["small"] != answers["starter"]
    loaded = {name: resolve_model(model_path=None, repo_id=None) for name in answers}
    loaded["small"].model = small_model
    context = handlers.AppContext.create(loaded["starter"], flag_dir=tmp_path / "flags")
    demo = digit_app.build_app(loaded["starter"], context=context)
    demo.queue(default_concurrency_limit=digit_app.CONCURRENCY, max_size=256)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    results, failures, stop = [], [], threading.Event()

    def client_loop():
        client = Client(url, verbose=False)
        for _ in range(6):
            try:
                result = client.predict(handle_file(str(image_path)), api_name="/predict")
                results.append({c["label"]: c["confidence"] for c in result["confidences"]})
            except Exception as exc:  # any failure is a finding
                failures.append(repr(exc))

    def swapper():
        while not stop.is_set():
            for name in ("small", "starter"):
                context.swap(loaded[name])
                time.sleep(0.01)

    try:
        swapping = threading.Thread(target=swapper)
        swapping.start()
        clients = [threading.Thread(target=client_loop) for _ in range(20)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
    finally:
        stop.set()
        swapping.join()
        demo.close()
    assert failures == []
    assert len(results) == 120
    whole = [{k: round(v, 6) for k, v in answer.items()} for answer in answers.values()]
    mixed = [r for r in results if {k: round(v, 6) for k, v in r.items()} not in whole]
    assert mixed == []
    assert len({json.dumps(r, sort_keys=True) for r in results}) == 2, "both models answered during the swaps"


def test_hub_dataset_addresses_are_checked_and_read_from_the_cache(offline_hub):
    assert parse_dataset_spec("hf://datasets/someone/flags@abc123") == ("someone/flags", "abc123")
    assert parse_dataset_spec("hf://datasets/someone/flags") == ("someone/flags", None)
    assert parse_dataset_spec("flagged/") is None
    with pytest.raises(DatasetError, match="expected hf://datasets/OWNER/NAME"):
        parse_dataset_spec("hf://models/someone/flags")
    with pytest.raises(DatasetError, match="someone/missing@main"):
        download_dataset("hf://datasets/someone/missing")


def test_a_follower_that_cannot_reach_the_hub_keeps_the_served_model(offline_hub):
    from huggingface_hub import HfApi

    swaps = []
    follower = ModelFollower(MODELS, current="a" * 40, swap=swaps.append, api=HfApi())
    assert follower.check() is None and swaps == [] and follower.current == "a" * 40


@pytest.mark.slow
def test_python_app_py_following_the_promoted_tag_serves_it_from_the_cache_offline(tmp_path, offline_hub):
    """`DIGIT_MODEL_FOLLOW=1 python app.py`, with the Hub out of reach: the promoted model from the cache."""
    import os
    import socket
    import subprocess
    import sys

    from gradio_client import Client, handle_file

    from digit_core.hub import move_promoted_tag, publish_model
    from digit_core.promotion import record_promotion

    api = offline_hub
    release = tmp_path / "release"
    shutil.copytree(STARTER_MODEL_PATH.parent, release)
    record_promotion(release / "README.md", PromotionReport([SetComparison("MNIST test", 10000, 0.995, None)]),
                     promoted_at="2026-11-25T09:00:00+00:00", repo_id=MODELS)
    commit = publish_model(release / "model.skops", MODELS, api=api)
    move_promoted_tag(MODELS, commit, api=api, message="promoted")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DIGIT_", "HF_"))}
    environment.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(api.cache), HF_HOME=str(tmp_path / "hf_home"), DIGIT_MODEL_REPO=MODELS,
                       DIGIT_MODEL_FOLLOW="1", DIGIT_FLAG_DIR=str(tmp_path / "flags"), GRADIO_SERVER_PORT=str(port))
    log = tmp_path / "app.log"
    with open(log, "w") as sink:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=environment, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.time() + 90
        while f"{port}" not in log.read_text() and time.time() < deadline and process.poll() is None:
            time.sleep(0.5)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        image = tmp_path / "seven.png"
        Image.open(ROOT / "samples" / "seven.png").save(image)
        assert client.predict(handle_file(str(image)), api_name="/predict")["label"] == "7"
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text()
    assert f"serving hub model from {MODELS}@{commit}" in text
    assert "still serving" in text  # the interval check could not reach the Hub, and said so
