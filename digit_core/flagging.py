"""The store of flagged drawings: an append-only Hugging Face ``imagefolder`` dataset on disk.

Layout (what ``datasets.load_dataset("imagefolder", data_dir=ROOT)`` and
:func:`digit_core.data.load_extra_folder` both read as is)::

    ROOT/README.md                          dataset card
    ROOT/samples/<writer>/metadata.jsonl    one line per sample: file_name, label, status, ...
    ROOT/samples/<writer>/<uuid>.png        the image as drawn or uploaded
    ROOT/reviews/<reviewer>.jsonl           review decisions: id, status (accepted/rejected), reason

Every sample lands as ``pending``; only a review decision makes it ``accepted`` (trained on) or
``rejected``; the latest decision about an id wins. Each process writes to its own ``<writer>``
folder. An image is written to a temporary file and renamed into place, then its metadata line is
appended with one ``write`` and ``fsync``: a flag costs the same at 50,000 samples as at 10, and a
crash at any moment leaves either a complete entry or none that a reader takes (an image without a
line is an orphan, removed by :meth:`FlagStore.clean_orphans`). When a Hub dataset repository and a
token are given, a ``huggingface_hub.CommitScheduler`` pushes the folder every few minutes, and
writes happen under its lock.
"""

from __future__ import annotations

import errno
import io
import json
import os
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from . import config
from .errors import FlagStoreError, InvalidImageError, InvalidLabelError
from .framing import FRAME_SIZE
from .images import to_grayscale

__all__ = [
    "FlagStore",
    "FlaggedSample",
    "validate_label",
    "read_flags",
    "read_reviews",
    "sample_status",
    "SOURCES",
    "VERDICTS",
    "STATUSES",
    "MAX_SAMPLES",
]

#: Where a flagged image came from.
SOURCES = ("draw", "upload", "api")
#: What the person said: the model was wrong, or it was right.
VERDICTS = ("wrong", "correct")
#: Where a sample stands in review. Only ``accepted`` samples are trained on.
STATUSES = ("pending", "accepted", "rejected")
#: The store takes at most this many samples (``DIGIT_MAX_FLAGS``); then a flag says the store is full.
MAX_SAMPLES = config.MAX_FLAGS
#: Temporary files and unlisted images older than this are left by a crash (``clean_orphans``).
_ORPHAN_AGE_SECONDS = 60.0

_CARD = """---
license: cc-by-sa-4.0
task_categories:
- image-classification
pretty_name: Flagged handwritten digits
tags:
- mnist
- handwritten-digits
size_categories:
- n<1K
---

# Flagged handwritten digits

Drawings and uploads that people sent to the digit recogniser, with the digit they said was right.
An `imagefolder` dataset: `samples/<writer>/metadata.jsonl` lists every image with these fields:

| field | meaning |
| --- | --- |
| `file_name` | the image as drawn or uploaded (PNG) |
| `label` | the right digit, 0-9, as the person said |
| `status` | `pending` when stored; `reviews/*.jsonl` lines (`id`, `status`: `accepted` or `rejected`) decide |
| `suspicion` | why automatic screening wants a person to look first (empty: nothing seen) |
| `client` | a salted hash of who sent it (for rate limits and screening; not the address) |
| `verdict` | `wrong` (the model misread it) or `correct` (confirmed) |
| `predicted` | the digit the model read, or null |
| `probabilities` | the model's ten calibrated probabilities, or null |
| `frame` | the 28x28 frame the model saw, rows of 0-255 integers |
| `model_id`, `model_revision` | which model read it |
| `source` | `draw`, `upload` or `api` |
| `timestamp` | UTC, ISO 8601 |

Review with `python scripts/flags.py review <this folder>`; train on the accepted samples with
`python scripts/train.py --extra <this folder> ...`.
"""


def validate_label(label) -> int:
    """The label as an int 0-9.

    Raises
    ------
    InvalidLabelError
        Anything else (including bools, floats with a fraction, strings that are not one digit).
    """
    if isinstance(label, bool):
        raise InvalidLabelError(f"label {label!r} is not a digit; expected an integer 0-9.")
    if isinstance(label, str) and label.strip().isdigit():
        label = int(label.strip())
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        label = int(label)
    if not isinstance(label, (int, np.integer)) or not 0 <= int(label) <= 9:
        raise InvalidLabelError(f"label {label!r} is not a digit; expected an integer 0-9.")
    return int(label)


@dataclass(frozen=True)
class FlaggedSample:
    """One stored sample, as a reader sees it: the metadata line, the image's path, its review status."""

    path: Path
    metadata: dict
    status: str = "pending"

    @property
    def label(self) -> int:
        return int(self.metadata["label"])

    @property
    def id(self) -> str:
        return Path(self.metadata["file_name"]).stem

    @property
    def suspicion(self) -> list[str]:
        """Why screening wants a person to look at it first (empty: nothing seen)."""
        return list(self.metadata.get("suspicion") or [])


class FlagStore:
    """Append-only store of flagged drawings, every one pending until reviewed.

    Parameters
    ----------
    root : path
        The dataset folder (``DIGIT_FLAG_DIR``).
    scheduler : huggingface_hub.CommitScheduler, optional
        When given, writes happen under ``scheduler.lock`` so a push never sees half a sample.
    writer : str, optional
        This process's folder name under ``samples/`` (and its file under ``reviews/``); default a
        fresh uuid.
    max_samples : int
        Samples the whole store may hold; :meth:`add` refuses more with a clear message.
    """

    def __init__(self, root: str | Path, *, scheduler=None, writer: str | None = None, max_samples: int = MAX_SAMPLES):
        self.root = Path(root)
        self.scheduler = scheduler
        self.writer = writer or uuid.uuid4().hex
        self.folder = self.root / "samples" / self.writer
        self.max_samples = max_samples
        self._lock = threading.Lock()
        self._counts: Counter | None = None  # per status, read once, then kept up to date

    @classmethod
    def with_hub_sync(cls, root: str | Path, *, repo_id: str | None, token: str | None, api=None, every_minutes: float = 5):
        """A store that pushes to the Hub dataset ``repo_id`` every few minutes, when a token is set.

        Without ``repo_id`` or ``token`` nothing touches the network. ``api`` is the ``HfApi`` client.
        """
        scheduler = None
        if repo_id and (token or api is not None):
            from huggingface_hub import CommitScheduler

            Path(root).mkdir(parents=True, exist_ok=True)
            scheduler = CommitScheduler(
                repo_id=repo_id,
                repo_type="dataset",
                folder_path=root,
                every=every_minutes,
                token=token,
                hf_api=api,
                private=True,
            )
        return cls(root, scheduler=scheduler)

    @contextmanager
    def _locked(self):
        with self._lock, (self.scheduler.lock if self.scheduler is not None else nullcontext()):
            yield

    def check_writable(self) -> str | None:
        """None when a flag can be saved here; otherwise what stands in the way, for a notice at start."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-check.{uuid.uuid4().hex}.tmp"
            _atomic_write(probe, b"ok")
            probe.unlink()
        except FlagStoreError as exc:
            return str(exc)
        except OSError as exc:
            return f"flags cannot be saved in {self.root}: {_os_reason(exc)}."
        return None

    def add(
        self,
        image,
        *,
        label,
        frame: np.ndarray | None = None,
        predicted: int | None = None,
        probabilities=None,
        model_id: str = "unknown",
        model_revision: str | None = None,
        source: str = "draw",
        verdict: str = "wrong",
        client: str | None = None,
        suspicion: list[str] | tuple[str, ...] = (),
    ) -> str:
        """Store one sample as ``pending``; return its id (the image's uuid).

        Parameters
        ----------
        image : PIL.Image.Image or ndarray
            The image as drawn or uploaded; saved as PNG.
        label : int
            The right digit, 0-9.
        frame : ndarray of shape (28, 28), float in [0, 1], optional
            The frame the model saw.
        predicted : int, optional
        probabilities : sequence of 10 floats, optional
        model_id, model_revision : str
        source : {'draw', 'upload', 'api'}
        verdict : {'wrong', 'correct'}
        client : str, optional
            Who sent it, already anonymised (see :func:`digit_core.screening.client_key`).
        suspicion : sequence of str
            Screening's reasons to review it first.

        Raises
        ------
        InvalidLabelError
            The label is not 0-9; nothing is written.
        InvalidImageError
            The image is empty or uniform (nothing drawn); nothing is written.
        FlagStoreError
            The store is full, or the disk refused the write (full, read-only, no permission); no
            partial entry is left.
        """
        label = validate_label(label)
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}; got {source!r}.")
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {verdict!r}.")
        png = _png_bytes(image)
        sample_id = uuid.uuid4().hex
        file_name = f"{sample_id}.png"
        line = {
            "file_name": file_name,
            "label": label,
            "status": "pending",
            "verdict": verdict,
            "predicted": None if predicted is None else int(predicted),
            "probabilities": None if probabilities is None else [round(float(p), 6) for p in probabilities],
            "frame": None if frame is None else np.round(np.clip(frame, 0, 1) * 255).astype(int).reshape(FRAME_SIZE, FRAME_SIZE).tolist(),
            "model_id": model_id,
            "model_revision": model_revision,
            "source": source,
            "client": client,
            "suspicion": list(suspicion),
            "timestamp": _now(),
        }
        with self._locked():
            counts = self._counts_locked()
            if sum(counts.values()) >= self.max_samples:
                raise FlagStoreError(
                    f"could not save: the flag store is full ({self.max_samples} samples). "
                    "Thank you; new flags are taken again once the stored ones are reviewed and cleared."
                )
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._write_card()
                _atomic_write(self.folder / file_name, png)
                try:
                    _append_lines(self.folder / "metadata.jsonl", [line])
                except BaseException:
                    (self.folder / file_name).unlink(missing_ok=True)
                    raise
            except OSError as exc:
                raise FlagStoreError(f"could not save: {_os_reason(exc)}.") from exc
            counts["pending"] += 1
        return sample_id

    def review(self, sample_ids, status: str, *, reason: str | None = None) -> int:
        """Record a decision about samples: ``accepted`` (trained on) or ``rejected``.

        Parameters
        ----------
        sample_ids : iterable of str
            Ids as :meth:`add` returned them.
        status : {'accepted', 'rejected', 'pending'}
        reason : str, optional

        Returns
        -------
        int
            Decisions written.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {status!r}.")
        sample_ids = list(sample_ids)
        if not sample_ids:
            return 0
        folder = self.root / "reviews"
        stamp = _now()
        lines = [{"id": str(i), "status": status, "reason": reason, "timestamp": stamp} for i in sample_ids]
        with self._locked():
            try:
                folder.mkdir(parents=True, exist_ok=True)
                _append_lines(folder / f"{self.writer}.jsonl", lines)
            except OSError as exc:
                raise FlagStoreError(f"could not save the review: {_os_reason(exc)}.") from exc
            self._counts = None  # decisions may change any sample's status: recount on next read
        return len(lines)

    def counts(self) -> dict[str, int]:
        """Samples per status, ``{"pending": n, "accepted": n, "rejected": n}``.

        Read from disk once, then kept up to date by this store's own writes (other processes'
        writes show after a restart).
        """
        with self._locked():
            counts = self._counts_locked()
            return {status: int(counts[status]) for status in STATUSES}

    def _counts_locked(self) -> Counter:
        if self._counts is None:
            self._counts = Counter(sample.status for sample in read_flags(self.root))
        return self._counts

    def clean_orphans(self, *, older_than: float = _ORPHAN_AGE_SECONDS) -> int:
        """Remove what a crash left: temporary files, and images no metadata line lists.

        Only files older than ``older_than`` seconds go, so a write in flight in another process is
        never touched. The samples it reads also give the store its counts, so that they are not
        read a second time. Returns how many files were removed.
        """
        removed = 0
        cutoff = time.time() - older_than
        samples = read_flags(self.root)
        with self._locked():
            self._counts = Counter(sample.status for sample in samples)
        listed = {sample.path.resolve() for sample in samples}
        for path in self.root.glob("**/*"):
            try:
                if not path.is_file() or path.stat().st_mtime > cutoff:
                    continue
                orphan_image = path.suffix == ".png" and path.parent.parent.name == "samples" and path.resolve() not in listed
                if path.name.endswith(".tmp") or orphan_image:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed

    def _write_card(self) -> None:
        card = self.root / "README.md"
        if not card.exists():
            _atomic_write(card, _CARD.encode("utf-8"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _os_reason(exc: OSError) -> str:
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the flag folder is on a read-only file system",
        errno.EACCES: "no permission to write in the flag folder",
        errno.EPERM: "no permission to write in the flag folder",
    }
    return reasons.get(exc.errno, f"{exc.strerror or exc} ({exc.filename or 'flag folder'})")


def _png_bytes(image) -> bytes:
    if isinstance(image, Image.Image):
        pil = image
    else:
        array = np.asarray(image)
        if array.size == 0:
            raise InvalidImageError("the image is empty; draw or upload a digit before flagging it.")
        if array.dtype != np.uint8:
            array = np.uint8(np.clip(array.astype(np.float64) * (255 if array.max(initial=0) <= 1 else 1), 0, 255))
        pil = Image.fromarray(array)
    grey = to_grayscale(pil)  # transparency composited, so strokes drawn only in alpha count
    if float(grey.max() - grey.min()) < 1 / 255:
        raise InvalidImageError("the image is blank; draw or upload a digit before flagging it.")
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _append_lines(path: Path, entries: list[dict]) -> None:
    # One write() of whole lines on an O_APPEND descriptor, then fsync of this file only. A line cut
    # short by a crash is finished with a newline before the next append, so it never swallows one.
    data = "".join(json.dumps(entry) + "\n" for entry in entries).encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(descriptor).st_size
        if size:
            with open(path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    data = b"\n" + data
        written = os.write(descriptor, data)
        if written != len(data):
            raise OSError(errno.ENOSPC, "short write", str(path))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_reviews(root: str | Path) -> dict[str, str]:
    """The latest review decision for each sample id: ``{id: "accepted" | "rejected" | "pending"}``."""
    decisions: list[tuple[str, str, str]] = []
    for path in sorted(Path(root).glob("reviews/*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                if entry["status"] in STATUSES:
                    decisions.append((str(entry.get("timestamp", "")), str(entry["id"]), entry["status"]))
            except (ValueError, KeyError, TypeError):
                continue
    return {sample_id: status for _, sample_id, status in sorted(decisions)}


def sample_status(entry: dict, decisions: dict[str, str]) -> str:
    """Where one metadata line stands: its latest review decision, else what it was stored as.

    A line written by the app (it has a ``verdict``) is ``pending`` until reviewed; a line marked
    ``"refused": true`` is ``rejected``; a hand-made imagefolder line with neither is the folder
    owner's own labelled data, ``accepted``.
    """
    sample_id = Path(str(entry.get("file_name", ""))).stem
    if sample_id in decisions:
        return decisions[sample_id]
    if entry.get("refused"):
        return "rejected"
    if entry.get("status") in STATUSES:
        return entry["status"]
    return "pending" if "verdict" in entry else "accepted"


def read_flags(root: str | Path) -> list[FlaggedSample]:
    """Every complete sample in a flag folder: metadata lines that parse and whose image exists."""
    decisions = read_reviews(root)
    samples = []
    for metadata in sorted(Path(root).glob("samples/*/metadata.jsonl")):
        for line in metadata.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                path = metadata.parent / entry["file_name"]
                validate_label(entry["label"])
            except (ValueError, KeyError, TypeError):
                continue
            if path.is_file():
                samples.append(FlaggedSample(path=path, metadata=entry, status=sample_status(entry, decisions)))
    return samples
