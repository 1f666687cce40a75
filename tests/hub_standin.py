"""The one stand-in the tests use: an HfApi that records what it would send instead of sending it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


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

    def __init__(self, token: str | None = "hf_test_token"):
        self.token = token
        self.repos: list[dict] = []
        self.commits: list[dict] = []

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
        digest = hashlib.sha1(repr(sorted((k, len(v)) for k, v in files.items())).encode()).hexdigest()
        return _CommitInfo(oid=digest)
