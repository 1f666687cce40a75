"""Training data: MNIST (IDX files or OpenML) and folders of people's own labelled drawings.

MNIST always comes with the standard split: the first 60,000 images train, the last 10,000 test.
Images are returned as ``(n, 28, 28)`` float32 frames in [0, 1]; labels as ``(n,)`` uint8.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DatasetError, DigitCoreError, InvalidLabelError
from .flagging import read_reviews, sample_status
from .framing import to_mnist_frame
from .images import open_image
from .real_data import held_out

__all__ = [
    "MNIST_FILES",
    "Split",
    "load_mnist",
    "load_mnist_idx",
    "load_mnist_openml",
    "read_idx",
    "ExtraSamples",
    "load_extra_folder",
    "FLAG_HELD_OUT_FRACTION",
    "label_from_filename",
    "file_md5",
]

#: The four IDX files of MNIST, by split.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
#: The part of the accepted extra samples kept out of training, to show that a new model reads
#: people's drawings better than the served one (``scripts/promote.py``): a hash of each sample's
#: id decides, so a sample stays on its side across retrainings.
FLAG_HELD_OUT_FRACTION = 0.2
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class Split:
    """Images and labels of one split: ``images`` (n, 28, 28) float32 in [0, 1], ``labels`` (n,) uint8."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int) -> "Split":
        """The first ``n`` samples."""
        return Split(self.images[:n], self.labels[:n])


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a uint8 array.

    Parameters
    ----------
    path : str or Path
        An ``idx3-ubyte`` (images) or ``idx1-ubyte`` (labels) file, ``.gz`` or not.

    Returns
    -------
    ndarray, uint8
        Shape ``(n, rows, cols)`` for images, ``(n,)`` for labels.

    Raises
    ------
    DatasetError
        Missing file, wrong magic number, or a size that does not match the header.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"IDX file {path} does not exist.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise DatasetError(f"IDX file {path} could not be read: {exc}.") from exc
    if len(data) < 8 or data[0:2] != b"\x00\x00" or data[2] != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file (magic {data[:4].hex()}).")
    n_dims = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    offset = 4 + 4 * n_dims
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise DatasetError(f"{path} holds {len(data) - offset} values; its header {dims} says {expected}.")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_mnist_idx(folder: str | Path, split: str = "train") -> Split:
    """Load one split of MNIST from a folder holding the four IDX files.

    Parameters
    ----------
    folder : str or Path
        Holds ``train-images-idx3-ubyte.gz`` etc. (``.gz`` or not).
    split : {'train', 'test'}

    Returns
    -------
    Split
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    folder = Path(folder)
    paths = []
    for name in MNIST_FILES[split]:
        path = folder / name
        if not path.exists() and (folder / name.removesuffix(".gz")).exists():
            path = folder / name.removesuffix(".gz")
        paths.append(path)
    images, labels = (read_idx(path) for path in paths)
    if len(images) != len(labels):
        raise DatasetError(f"{paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} labels.")
    return Split(images.astype(np.float32) / 255.0, labels.astype(np.uint8))


def load_mnist_openml(split: str = "train", *, data_home: str | Path | None = None) -> Split:
    """Load one split of MNIST from OpenML (``mnist_784``, cached under ``data_home``).

    The first 60,000 rows are the training set and the last 10,000 the test set, as in the IDX files.
    Needs internet the first time.
    """
    from sklearn.datasets import fetch_openml

    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    try:
        bunch = fetch_openml("mnist_784", version=1, as_frame=False, parser="auto", data_home=data_home)
    except Exception as exc:  # network errors come in many types
        raise DatasetError(
            f"could not fetch MNIST from OpenML ({exc}). Without internet, pass --mnist DIR with the IDX files."
        ) from exc
    images = np.asarray(bunch.data, dtype=np.float32).reshape(-1, 28, 28) / 255.0
    labels = np.asarray(bunch.target).astype(np.uint8)
    window = slice(0, 60_000) if split == "train" else slice(60_000, 70_000)
    return Split(images[window], labels[window])


def load_mnist(split: str = "train", *, folder: str | Path | None = None) -> Split:
    """MNIST from ``folder`` (IDX files) when given, else from OpenML."""
    return load_mnist_idx(folder, split) if folder is not None else load_mnist_openml(split)


def file_md5(path: str | Path) -> str:
    """MD5 of a file, as MNIST's checksums are given."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def label_from_filename(name: str) -> int:
    """The digit in a file name of the older convention: a ``_``-separated part that is one digit.

    ``img_7_003.png`` -> 7; ``7_drawing.png`` -> 7.

    Raises
    ------
    InvalidLabelError
        No part of the name is a single digit.
    """
    stem = Path(name).stem
    for part in re.split(r"[_\-\s]+", stem):
        if len(part) == 1 and part.isdigit():
            return int(part)
    raise InvalidLabelError(
        f"no label in file name {name!r}: expected a '_'-separated part that is one digit, like img_7_003.png."
    )


@dataclass
class ExtraSamples:
    """Labelled drawings read from extra folders.

    ``images`` (n, 28, 28) float32 frames, ``labels`` (n,) uint8, ``sources`` the file of each,
    ``skipped`` ``(file, reason)`` for every file that could not be read or labelled;
    ``pending_skipped`` and ``rejected_skipped`` count flagged samples left out by review.
    """

    images: np.ndarray
    labels: np.ndarray
    sources: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    pending_skipped: int = 0
    rejected_skipped: int = 0

    def counts(self) -> dict[int, int]:
        """Number of samples of each digit."""
        return {digit: int((self.labels == digit).sum()) for digit in range(10)}

    def split_held_out(self, fraction: float = FLAG_HELD_OUT_FRACTION) -> tuple["ExtraSamples", "ExtraSamples"]:
        """``(for training, held out)``: a fixed ``fraction`` of the samples, chosen by a hash of each
        file's name (a flag's id), kept out of training to compare models on."""
        keep_out = np.array([held_out(Path(source).stem, fraction=fraction, salt="digit-flags") for source in self.sources], dtype=bool)
        return self._where(~keep_out), self._where(keep_out)

    def _where(self, keep: np.ndarray) -> "ExtraSamples":
        return ExtraSamples(
            self.images[keep],
            self.labels[keep],
            [source for source, k in zip(self.sources, keep) if k],
            self.skipped,
            self.duplicates,
            self.pending_skipped,
            self.rejected_skipped,
        )


def load_extra_folder(folder: str | Path) -> ExtraSamples:
    """Read a folder of labelled drawings into MNIST frames.

    Two layouts are read:

    - an ``imagefolder`` dataset (as the flagging store writes): images plus ``metadata.jsonl`` lines
      with ``file_name`` and ``label``. Only *accepted* samples are read
      (:func:`digit_core.flagging.sample_status`: flags stay pending until a review accepts them;
      a hand-made line without ``verdict`` or ``status`` is accepted); images in such a folder that
      its metadata does not list are ignored;
    - the older convention: image files whose name holds the digit as a ``_``-separated part.

    A flagged sample trains on the frame the model was served and the person corrected (the
    metadata's ``frame``, 28 rows of 28 integers 0-255), so that a digit read from a page with its
    ruled lines removed trains without them; every other image goes through
    :func:`digit_core.framing.to_mnist_frame`, as uploads do. Files that cannot be read or labelled
    are listed in ``skipped`` with the reason; exact duplicates (the same frame with the same label)
    are kept once.

    Raises
    ------
    DatasetError
        The folder does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"extra folder {folder} does not exist or is not a folder.")
    labelled, skipped, left_out = _labelled_files(folder)
    images, labels, sources, seen, duplicates = [], [], [], set(), 0
    for path, label, served in labelled:
        try:
            if not path.is_file():
                raise DatasetError(f"{path.name} is listed in metadata.jsonl but the image is missing")
            frame = served if served is not None else to_mnist_frame(open_image(path))
        except DigitCoreError as exc:
            skipped.append((str(path), str(exc)))
            continue
        key = (label, hashlib.sha1(np.round(frame * 255).astype(np.uint8).tobytes()).hexdigest())
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        images.append(frame)
        labels.append(label)
        sources.append(str(path))
    stacked = np.stack(images) if images else np.zeros((0, 28, 28), dtype=np.float32)
    return ExtraSamples(
        stacked,
        np.asarray(labels, dtype=np.uint8),
        sources,
        skipped,
        duplicates,
        pending_skipped=left_out["pending"],
        rejected_skipped=left_out["rejected"],
    )


def _served_frame(entry: dict) -> np.ndarray | None:
    frame = entry.get("frame")
    if frame is None:
        return None
    array = np.asarray(frame, dtype=np.float32)
    if array.shape != (28, 28) or not np.isfinite(array).all():
        raise ValueError(f"frame has shape {array.shape}; expected 28 rows of 28 values 0-255")
    return np.clip(array / 255.0, 0.0, 1.0)


def _labelled_files(folder: Path) -> tuple[list[tuple[Path, int, np.ndarray | None]], list[tuple[str, str]], Counter]:
    labelled: list[tuple[Path, int, np.ndarray | None]] = []
    skipped: list[tuple[str, str]] = []
    left_out: Counter = Counter()
    decisions = read_reviews(folder)
    described: set[Path] = set()
    catalogued: set[Path] = set()  # folders whose images are listed by a metadata.jsonl
    for metadata in sorted(folder.rglob("metadata.jsonl")):
        catalogued.add(metadata.parent.resolve())
        for number, line in enumerate(metadata.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{metadata}:{number}"
            try:
                entry = json.loads(line)
                path = (metadata.parent / entry["file_name"]).resolve()
                described.add(path)
                status = sample_status(entry, decisions)
                if status != "accepted":
                    left_out[status] += 1
                    continue
                label = entry["label"]
                if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
                    raise InvalidLabelError(f"label {label!r} is not an integer 0-9")
                served = _served_frame(entry)
            except (ValueError, KeyError, TypeError) as exc:
                skipped.append((where, f"unreadable metadata line: {exc}"))
                continue
            labelled.append((path, label, served))
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in _IMAGE_SUFFIXES or path.resolve() in described:
            continue
        if path.parent.resolve() in catalogued:
            continue  # not in its folder's metadata: an orphan of an interrupted write
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        try:
            labelled.append((path, label_from_filename(path.name), None))
        except InvalidLabelError as exc:
            skipped.append((str(path), str(exc)))
    return labelled, skipped, left_out
