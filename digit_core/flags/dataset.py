"""What training reads from flag folders: the accepted samples as frames, deduplicated, with the
hold-out decided once.

Only *accepted* samples train (:func:`digit_core.flags.record.sample_status`). A fixed part of them
(:data:`FLAG_HELD_OUT_FRACTION`, chosen by a hash of each sample's id, so a sample stays on its
side across retrainings) is kept out of training to show that a new model reads people's drawings
better than the served one (``scripts/promote.py``). :func:`load_flag_data` reads every source once,
splits it once and describes it for the model card; :func:`held_out_flags` gives promotion the same
held-out part.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import ExtraSamples, Split
from ..errors import DatasetError, DigitCoreError, InvalidLabelError
from ..framing import FRAME_SIZE, to_mnist_frame
from ..hub import download_dataset, parse_dataset_spec
from ..images import open_image
from ..real_data import held_out
from .record import Records, read_records

__all__ = [
    "FLAG_HELD_OUT_FRACTION",
    "FlagData",
    "is_held_out",
    "label_from_filename",
    "load_extra_folder",
    "drop_duplicates",
    "load_flag_data",
    "held_out_flags",
]

#: The part of the accepted samples kept out of training, to compare models on.
FLAG_HELD_OUT_FRACTION = 0.2
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}


def is_held_out(source: str, fraction: float = FLAG_HELD_OUT_FRACTION) -> bool:
    """Whether the sample read from ``source`` (its image's path; the stem is the flag's id) is held out."""
    return held_out(Path(source).stem, fraction=fraction, salt="digit-flags")


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


def load_extra_folder(folder: str | Path) -> ExtraSamples:
    """Read a folder of labelled drawings into MNIST frames.

    Two layouts are read:

    - an ``imagefolder`` dataset (as :class:`digit_core.flags.store.FlagStore` writes, or made by
      hand): only *accepted* samples are read (flags stay pending until a review accepts them; a
      hand-made line without ``verdict`` or ``status`` is accepted); images in such a folder that
      its metadata does not list are ignored;
    - the older convention: image files whose name holds the digit as a ``_``-separated part.

    A flagged sample trains on the frame the model was served and the person corrected, so that a
    digit read from a page with its ruled lines removed trains without them; every other image goes
    through :func:`digit_core.framing.to_mnist_frame`, as uploads do. Files that cannot be read or
    labelled are listed in ``skipped`` with the reason; exact duplicates (the same frame with the
    same label) are kept once (:func:`drop_duplicates`).

    Raises
    ------
    DatasetError
        The folder does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"extra folder {folder} does not exist or is not a folder.")
    records = read_records(folder)
    left_out = Counter(sample.status for sample in records.samples if sample.status != "accepted")
    skipped = list(records.problems)
    images, labels, sources = [], [], []
    for path, label, frame in _accepted_frames(records, skipped) + _named_frames(folder, records, skipped):
        images.append(frame)
        labels.append(label)
        sources.append(str(path))
    stacked = np.stack(images) if images else np.zeros((0, FRAME_SIZE, FRAME_SIZE), dtype=np.float32)
    found = ExtraSamples(stacked, np.asarray(labels, dtype=np.uint8), sources, skipped,
                         pending_skipped=left_out["pending"], rejected_skipped=left_out["rejected"])
    return drop_duplicates(found)


def _accepted_frames(records: Records, skipped: list) -> list[tuple[Path, int, np.ndarray]]:
    frames = []
    for sample in records.samples:
        if sample.status != "accepted":
            continue
        path = sample.path.resolve()
        try:
            if not path.is_file():
                raise DatasetError(f"{path.name} is listed in its folder's metadata but the image is missing")
            served = sample.served_frame()
            frames.append((path, sample.label, served if served is not None else to_mnist_frame(open_image(path))))
        except (DigitCoreError, ValueError) as exc:
            skipped.append((str(path), str(exc)))
    return frames


def _named_frames(folder: Path, records: Records, skipped: list) -> list[tuple[Path, int, np.ndarray]]:
    described = {sample.path.resolve() for sample in records.samples}
    frames = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in _IMAGE_SUFFIXES or path.resolve() in described:
            continue
        if path.parent.resolve() in records.catalogued:
            continue  # not in its folder's metadata: an orphan of an interrupted write
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        try:
            frames.append((path, label_from_filename(path.name), to_mnist_frame(open_image(path))))
        except DigitCoreError as exc:
            skipped.append((str(path), str(exc)))
    return frames


def drop_duplicates(samples: ExtraSamples) -> ExtraSamples:
    """The samples with exact duplicates (the same frame to 1/255, the same label) kept once, the
    first of each; ``duplicates`` counts those dropped, on top of any counted before."""
    return _dedupe(samples)[0]


def _dedupe(samples: ExtraSamples) -> tuple[ExtraSamples, np.ndarray]:
    first: dict[tuple[int, str], int] = {}
    for index, (frame, label) in enumerate(zip(samples.images, samples.labels)):
        digest = hashlib.sha1(np.round(frame * 255).astype(np.uint8).tobytes()).hexdigest()
        first.setdefault((int(label), digest), index)
    keep = np.asarray(sorted(first.values()), dtype=int)
    kept = _subset(samples, keep)
    kept.duplicates += len(samples.labels) - len(keep)
    return kept, keep


def _subset(samples: ExtraSamples, keep: np.ndarray) -> ExtraSamples:
    """The samples at ``keep`` (a boolean mask or indices), with the folder's counts kept."""
    index = np.flatnonzero(keep) if keep.dtype == bool else keep
    return ExtraSamples(samples.images[index], samples.labels[index], [samples.sources[i] for i in index],
                        list(samples.skipped), samples.duplicates, samples.pending_skipped, samples.rejected_skipped)


@dataclass
class FlagData:
    """The accepted samples of every flag source, split once into training and held-out parts.

    Attributes
    ----------
    accepted : ExtraSamples
        Every accepted sample, duplicates across sources dropped.
    held_out : ndarray of shape (n,), bool
        Which of ``accepted`` are kept out of training.
    fraction : float
        The held-out fraction used.
    sources : list of dict
        Per source (``folder``, or ``dataset`` and ``revision``): ``accepted``, ``trained_on``,
        ``held_out``, ``pending_skipped``, ``rejected_skipped`` (for the model card).
    downloads : list of str
        Where each Hub dataset was read from: its revision and local folder.
    """

    accepted: ExtraSamples
    held_out: np.ndarray
    fraction: float
    sources: list[dict] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)

    @property
    def training(self) -> ExtraSamples:
        """The accepted samples training may use."""
        return _subset(self.accepted, ~self.held_out)

    @property
    def held_out_samples(self) -> ExtraSamples:
        """The accepted samples kept out of training."""
        return _subset(self.accepted, self.held_out)

    def report_lines(self) -> list[str]:
        """What reading the sources found: each Hub download, each file skipped and why, the summary."""
        return [*self.downloads, *(f"skipped {where}: {reason}" for where, reason in self.accepted.skipped), self.summary()]

    def summary(self) -> str:
        """One line: what was added, held out, dropped, skipped and left out until reviewed."""
        merged = self.accepted
        counts = ", ".join(f"{digit}: {count}" for digit, count in merged.counts().items())
        return (f"extra drawings: {len(merged.labels)} added ({counts}), of which {int(self.held_out.sum())} are held out "
                f"of training to compare models on; {merged.duplicates} duplicates dropped, {len(merged.skipped)} skipped; "
                f"left out until reviewed: {merged.pending_skipped} pending, {merged.rejected_skipped} rejected")


def load_flag_data(specs: list[str], *, fraction: float = FLAG_HELD_OUT_FRACTION) -> FlagData:
    """Every accepted sample of flag folders and Hub flag datasets (``hf://datasets/OWNER/NAME[@REVISION]``).

    Each sample's side of the hold-out is decided here, once; exact duplicates across sources are
    kept once.

    Raises
    ------
    DatasetError
        A folder is missing, or a Hub dataset cannot be downloaded.
    """
    parts, masks, described, downloads = [], [], [], []
    for spec in specs:
        where = {"folder": str(spec)}
        folder = spec
        if parse_dataset_spec(spec) is not None:
            snapshot = download_dataset(spec)
            where, folder = {"dataset": snapshot.repo_id, "revision": snapshot.revision}, snapshot.folder
            downloads.append(f"Hub dataset {snapshot.repo_id} at revision {snapshot.revision} ({snapshot.folder})")
        part = load_extra_folder(folder)
        held = np.array([is_held_out(source, fraction) for source in part.sources], dtype=bool)
        parts.append(part)
        masks.append(held)
        described.append({**where, "accepted": len(part.labels), "trained_on": int((~held).sum()), "held_out": int(held.sum()),
                          "pending_skipped": part.pending_skipped, "rejected_skipped": part.rejected_skipped})
    merged = ExtraSamples(
        np.concatenate([np.zeros((0, FRAME_SIZE, FRAME_SIZE), np.float32), *(p.images for p in parts)]),
        np.concatenate([np.zeros(0, np.uint8), *(p.labels for p in parts)]),
        [source for p in parts for source in p.sources],
        [s for p in parts for s in p.skipped],
        sum(p.duplicates for p in parts),
        sum(p.pending_skipped for p in parts),
        sum(p.rejected_skipped for p in parts),
    )
    accepted, keep = _dedupe(merged)
    return FlagData(accepted, np.concatenate([np.zeros(0, bool), *masks])[keep], fraction, described, downloads)


def held_out_flags(specs: list[str], *, fraction: float = FLAG_HELD_OUT_FRACTION) -> Split:
    """The accepted samples of ``specs`` held out of training, as the frames that were served."""
    held = load_flag_data(specs, fraction=fraction).held_out_samples
    return Split(held.images.astype(np.float32).reshape(-1, FRAME_SIZE, FRAME_SIZE), held.labels.astype(np.uint8))
