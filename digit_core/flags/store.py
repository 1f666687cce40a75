"""The store of flagged drawings: append a sample, record reviews, count, clean up, sync to the Hub.

Every sample lands as ``pending``; only a review decision makes it ``accepted`` (trained on) or
``rejected``; the latest decision about an id wins. Each process writes to its own writer folder
(the layout is :mod:`digit_core.flags.record`'s). An image is written to a temporary file and renamed
into place, then its metadata line is appended with one ``write`` and ``fsync``: a flag costs the
same at 50,000 samples as at 10, and a crash at any moment leaves either a complete entry or none
that a reader takes (an image without a line is an orphan, removed by
:meth:`FlagStore.clean_orphans`). When a Hub dataset repository and a token are given, a
``huggingface_hub.CommitScheduler`` pushes the folder every few minutes, and writes happen under its
lock.
"""

from __future__ import annotations

import errno
import io
import os
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from .. import config
from ..errors import FlagStoreError, InvalidImageError
from ..images import to_grayscale
from . import record
from .record import STATUSES, read_flags

__all__ = ["FlagStore", "MAX_SAMPLES"]

#: The store takes at most this many samples (``DIGIT_MAX_FLAGS``); then a flag says the store is full.
MAX_SAMPLES = config.MAX_FLAGS
#: Temporary files and unlisted images older than this are left by a crash (``clean_orphans``).
_ORPHAN_AGE_SECONDS = 60.0


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
        self.folder = record.samples_folder(self.root, self.writer)
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

    def add(self, image, *, label, **fields) -> str:
        """Store one sample as ``pending``; return its id (the image's uuid).

        Parameters
        ----------
        image : PIL.Image.Image or ndarray
            The image as drawn or uploaded; saved as PNG.
        label : int
            The right digit, 0-9.
        **fields
            The rest of the record, keyword-only (:func:`digit_core.flags.record.new_row`):
            ``frame`` (ndarray of shape (28, 28), float in [0, 1], the frame the model saw),
            ``predicted`` (int), ``probabilities`` (10 floats), ``model_id``, ``model_revision``,
            ``source`` ('draw', 'upload' or 'api'), ``verdict`` ('wrong' or 'correct'), ``client``
            (already anonymised, :func:`digit_core.flags.gate.client_key`) and ``suspicion``
            (screening's reasons to review it first).

        Raises
        ------
        InvalidLabelError
            The label is not 0-9; nothing is written.
        InvalidImageError
            The image is empty or uniform (nothing drawn); nothing is written.
        ValueError
            ``source`` or ``verdict`` is not one of the allowed values; nothing is written.
        FlagStoreError
            The store is full, or the disk refused the write (full, read-only, no permission); no
            partial entry is left.
        """
        sample_id = uuid.uuid4().hex
        line = record.new_row(f"{sample_id}.png", label=label, timestamp=_now(), **fields)
        png = _png_bytes(image)
        with self._locked():
            counts = self._counts_locked()
            if sum(counts.values()) >= self.max_samples:
                raise FlagStoreError(
                    f"could not save: the flag store is full ({self.max_samples} samples). "
                    "Thank you; new flags are taken again once the stored ones are reviewed and cleared."
                )
            try:
                self._write_sample(line["file_name"], png, line)
            except OSError as exc:
                raise FlagStoreError(f"could not save: {_os_reason(exc)}.") from exc
            counts["pending"] += 1
        return sample_id

    def _write_sample(self, file_name: str, png: bytes, line: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        card = record.card_file(self.root)
        if not card.exists():
            _atomic_write(card, record.dataset_card().encode("utf-8"))
        _atomic_write(self.folder / file_name, png)
        try:
            _append_lines(record.metadata_file(self.folder), [line])
        except BaseException:
            (self.folder / file_name).unlink(missing_ok=True)
            raise

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

        Raises
        ------
        ValueError
            ``status`` is not one of the three.
        FlagStoreError
            The disk refused the write.
        """
        lines = record.review_rows(list(sample_ids), status, reason=reason, timestamp=_now())
        if not lines:
            return 0
        path = record.review_file(self.root, self.writer)
        with self._locked():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                _append_lines(path, lines)
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
                orphan_image = record.is_sample_image(path) and path.resolve() not in listed
                if path.name.endswith(".tmp") or orphan_image:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


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
    data = record.encode_rows(entries)
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
