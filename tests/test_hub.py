"""Which model is served: local file, Hub (through the real cache layout, offline), starter; publishing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from digit_core.config import STARTER_MODEL_PATH
from digit_core.hub import resolve_model
from tests.conftest import ROOT
from tests.hub_standin import RecordingHfApi
from tests.script_runner import load_script

push_to_hub = load_script("push_to_hub")

REPO = "someone/digit-svc"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fill_hub_cache(cache: Path, *, repo: str = REPO, commit: str = COMMIT, files: dict[str, Path]) -> None:
    """Lay files out as huggingface_hub's cache does: blobs, a snapshot of symlinks, refs/main."""
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "blobs").mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, source in files.items():
        blob = hashlib.sha256(source.read_bytes()).hexdigest()
        shutil.copyfile(source, root / "blobs" / blob)
        (snapshot / name).symlink_to(Path("..") / ".." / "blobs" / blob)


def resolve_offline(cache: Path, **env: str) -> dict:
    """Run resolve_model() in a fresh process with HF_HUB_OFFLINE=1 and the given DIGIT_* variables."""
    script = textwrap.dedent(
        """
        import json
        from digit_core.hub import resolve_model
        loaded = resolve_model()
        print(json.dumps({"source": loaded.source, "location": loaded.location, "notices": loaded.notices,
                          "accuracy": loaded.facts.get("accuracy"), "model_id": loaded.model_id}))
        """
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DIGIT_", "HF_"))}
    environment.update({"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(cache.parent / "hf_home"),
                        "PYTHONPATH": str(ROOT), **env})
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def hub_cache(tmp_path):
    cache = tmp_path / "hub"
    fill_hub_cache(cache, files={"model.skops": STARTER_MODEL_PATH, "README.md": STARTER_MODEL_PATH.with_name("README.md")})
    return cache


@pytest.mark.slow
def test_pinned_hub_model_is_read_from_the_cache_offline(hub_cache):
    loaded = resolve_offline(hub_cache, DIGIT_MODEL_REPO=REPO, DIGIT_MODEL_REVISION=COMMIT)
    assert loaded["source"] == "hub" and loaded["location"] == f"{REPO}@{COMMIT}"
    assert loaded["notices"] == [] and loaded["accuracy"] > 0.99


@pytest.mark.slow
def test_missing_pinned_revision_falls_back_to_the_starter_with_a_notice(hub_cache):
    missing = "f" * 40
    loaded = resolve_offline(hub_cache, DIGIT_MODEL_REPO=REPO, DIGIT_MODEL_REVISION=missing)
    assert loaded["source"] == "starter"
    assert missing in loaded["notices"][0] and "starter" in loaded["notices"][-1]


@pytest.mark.slow
def test_local_model_path_wins_over_the_hub(hub_cache):
    loaded = resolve_offline(hub_cache, DIGIT_MODEL_PATH=str(STARTER_MODEL_PATH), DIGIT_MODEL_REPO=REPO)
    assert loaded["source"] == "local"


def test_a_bad_local_path_falls_back_with_a_notice(tmp_path):
    loaded = resolve_model(model_path=tmp_path / "missing.skops", repo_id=None)
    assert loaded.source == "starter" and "missing.skops" in loaded.notices[0]


def test_publishing_commits_model_card_and_pictures_at_once(capsys):
    api = RecordingHfApi()
    status = push_to_hub.main(["--model", str(STARTER_MODEL_PATH), "--repo", REPO], api=api)
    assert status == 0
    assert api.repos == [{"repo_id": REPO, "repo_type": "model", "private": False, "exist_ok": True}]
    (commit,) = api.commits
    assert set(commit["files"]) == {"model.skops", "README.md", "confusion_matrix.png", "misclassified.png"}
    assert commit["files"]["model.skops"] == STARTER_MODEL_PATH.read_bytes()
    card = commit["files"]["README.md"].decode()
    assert "model-index:" in card and "type: accuracy" in card and "type: ece" in card


def test_publishing_prints_the_commit_sha_to_pin(capsys):
    api = RecordingHfApi()
    push_to_hub.main(["--model", str(STARTER_MODEL_PATH), "--repo", REPO], api=api)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out[-1]) == 40 and f"DIGIT_MODEL_REVISION={out[-1]}" in out[-2]


def test_publishing_without_a_token_says_how_to_log_in_and_uploads_nothing(capsys, monkeypatch):
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    api = RecordingHfApi(token=None)
    assert push_to_hub.main(["--model", str(STARTER_MODEL_PATH), "--repo", REPO], api=api) == 2
    assert "hf auth login" in capsys.readouterr().err
    assert api.commits == [] and api.repos == []


def test_publishing_a_model_without_a_card_is_refused(tmp_path, capsys):
    lonely = tmp_path / "model.skops"
    shutil.copyfile(STARTER_MODEL_PATH, lonely)
    api = RecordingHfApi()
    assert push_to_hub.main(["--model", str(lonely), "--repo", REPO], api=api) == 2
    assert "no model card" in capsys.readouterr().err and api.commits == []
