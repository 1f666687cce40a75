"""Training data: MNIST (IDX files or OpenML), and the container for other labelled frames.

Folders of people's own labelled drawings (flags and hand-made folders) are read by
:mod:`digit_core.flags.dataset` into :class:`ExtraSamples`.

MNIST always comes with the standard split: the first 60,000 images train, the last 10,000 test.
Images are returned as ``(n, 28, 28)`` float32 frames in [0, 1]; labels as ``(n,)`` uint8.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DatasetError

__all__ = [
    "MNIST_FILES",
    "Split",
    "load_mnist",
    "load_mnist_idx",
    "load_mnist_openml",
    "read_idx",
    "ExtraSamples",
    "file_md5",
]

#: The four IDX files of MNIST, by split.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


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


@dataclass
class ExtraSamples:
    """Labelled frames from beyond MNIST: flag folders (:func:`digit_core.flags.load_extra_folder`)
    or real pen digits drawn on a canvas.

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
