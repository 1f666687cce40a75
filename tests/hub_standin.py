"""The one stand-in the tests use: an HfApi that records what it would send instead of sending it.

Given a ``cache`` folder it also plays the Hub's side of what it records: each commit and tag is laid
out in huggingface_hub's real cache layout (blobs, snapshots of symlinks, refs), as a later download
would leave it, so the real ``hf_hub_download`` and ``snapshot_download`` read them with
``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass
class _RepoUrl:
    repo_id: str


@dataclass
class _CommitInfo:
    oid: str


class RecordingHfApi:
    """Implements the HfApi calls our code and CommitScheduler make and records them.

    ``create_commit`` reads every file the commit would upload, as the real client does.
    """

    def __init__(self, token: str | None = "hf_test_token", *, cache: Path | None = None):
        self.token = token
        self.cache = cache
        self.repos: list[dict] = []
        self.commits: list[dict] = []
        self.trees: dict[str, dict[str, bytes]] = {}  # repo folder name -> files at its newest commit

    def run_as_future(self, function, *args, **kwargs):
        """Run at once (the real client runs it in a thread and returns a Future)."""
        from concurrent.futures import Future

        future: Future = Future()
        future.set_result(function(*args, **kwargs))
        return future

    def create_repo(self, repo_id, *, repo_type=None, private=None, exist_ok=False, **_):
        self.repos.append({"repo_id": repo_id, "repo_type": repo_type, "private": private, "exist_ok": exist_ok})
        return _RepoUrl(repo_id)

    def create_commit(self, repo_id, operations, *, commit_message, repo_type=None, revision=None, **_):
        files = {}
        for operation in operations:
            source = operation.path_or_fileobj
            if isinstance(source, bytes):
                files[operation.path_in_repo] = source
            elif isinstance(source, str):
                with open(source, "rb") as handle:
                    files[operation.path_in_repo] = handle.read()
            else:  # a file object, as CommitScheduler passes
                source.seek(0)
                files[operation.path_in_repo] = source.read()
        self.commits.append({"repo_id": repo_id, "repo_type": repo_type, "message": commit_message, "files": files})
        digest = hashlib.sha1(repr((len(self.commits), sorted((k, len(v)) for k, v in files.items()))).encode()).hexdigest()
        if self.cache is not None:
            self._lay_out(repo_id, repo_type or "model", digest, files)
        return _CommitInfo(oid=digest)

    # --- the Hub's side, in the local cache --------------------------------------------------------

    def _root(self, repo_id: str, repo_type: str) -> Path:
        return self.cache / f"{repo_type}s--{repo_id.replace('/', '--')}"

    def _lay_out(self, repo_id: str, repo_type: str, commit: str, files: dict[str, bytes]) -> None:
        root = self._root(repo_id, repo_type)
        tree = {**self.trees.get(str(root), {}), **files}  # a commit adds to its parent's files
        self.trees[str(root)] = tree
        for name, data in tree.items():
            blob = root / "blobs" / hashlib.sha256(data).hexdigest()
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            link = root / "snapshots" / commit / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(*[".."] * (len(Path(name).parts) + 1), "blobs", blob.name))
        self._write_ref(root, "main", commit)

    @staticmethod
    def _write_ref(root: Path, name: str, commit: str) -> None:
        (root / "refs").mkdir(parents=True, exist_ok=True)
        (root / "refs" / name).write_text(commit)

    def create_tag(self, repo_id, *, tag, tag_message=None, revision=None, repo_type=None, exist_ok=False, **_):
        root = self._root(repo_id, repo_type or "model")
        if (root / "refs" / tag).exists() and not exist_ok:
            raise ValueError(f"tag {tag} exists")  # the real client raises a 409 HTTP error
        self._write_ref(root, tag, revision or (root / "refs" / "main").read_text())

    def delete_tag(self, repo_id, *, tag, repo_type=None, **_):
        ref = self._root(repo_id, repo_type or "model") / "refs" / tag
        if not ref.exists():
            raise _not_found(f"tag {tag} not found in {repo_id}")
        ref.unlink()

    def model_info(self, repo_id, *, revision=None, **_):
        ref = self._root(repo_id, "model") / "refs" / (revision or "main")
        if not ref.exists():
            raise _not_found(f"revision {revision} not found in {repo_id}")
        return _ModelInfo(id=repo_id, sha=ref.read_text())


@dataclass
class _ModelInfo:
    id: str
    sha: str


def _not_found(message: str):
    import httpx2
    from huggingface_hub.errors import RevisionNotFoundError

    return RevisionNotFoundError(message, response=httpx2.Response(404, request=httpx2.Request("GET", "https://huggingface.co")))
