"""Real handwriting that MNIST never had: pen trajectories and labelled image sets.

- :class:`PenDigits` / :func:`load_pen_digits`: digits written on tablets (UNIPEN, ``unipen_dev.npz``),
  kept as trajectories so that they can be drawn the way the app's sketchpad draws
  (:func:`digit_core.strokes.draw_strokes`), with the site (writer group) of each.
- :class:`LabelledSet` / :func:`load_labelled_set`: a folder of images with ``labels.csv``
  (``file,label[,boxes]``): single digits or whole numbers, with optional per-digit boxes.
- :func:`held_out` splits by writer group or by document, never by sample, so that what is measured on
  the held-out part is what generalises to writers and documents never seen.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from .errors import DatasetError, NoDigitFoundError
from .framing import to_mnist_frame
from .strokes import draw_strokes

__all__ = [
    "PenDigits",
    "load_pen_digits",
    "load_pen_letters",
    "LabelledImage",
    "LabelledSet",
    "load_labelled_set",
    "held_out",
    "PenStyle",
    "PEN_STYLES",
    "frame_pen_digits",
    "frame_pen_samples",
    "draw_pen_number",
    "document_key",
    "UNIPEN_HELD_OUT_SITES",
    "LABELS_FILENAME",
]

#: UNIPEN sites kept out of every model we train, so that their writers measure generalisation:
#: 3,077 digits (34%) from four sites of different sizes. ``syn``, the largest site, trains.
UNIPEN_HELD_OUT_SITES = ("ced", "app", "aga", "imp")
#: The labels file of a labelled image set.
LABELS_FILENAME = "labels.csv"


@dataclass(frozen=True)
class PenDigits:
    """Digits as pen trajectories.

    Attributes
    ----------
    points : ndarray of shape (P, 2), int32
        ``x, y`` of every point, ``y`` growing downwards.
    stroke_starts : ndarray of shape (S,), int64
        Index into ``points`` where each stroke starts.
    sample_starts : ndarray of shape (n,), int64
        Index into ``stroke_starts`` of each digit's first stroke.
    labels : ndarray of shape (n,), uint8
    sources : ndarray of shape (n,), str
        The site (group of writers) each digit comes from.
    """

    points: np.ndarray
    stroke_starts: np.ndarray
    sample_starts: np.ndarray
    labels: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def strokes(self, index: int) -> list[np.ndarray]:
        """Digit ``index`` as a list of ``(n_points, 2)`` float arrays, one per stroke."""
        first = self.sample_starts[index]
        last = self.sample_starts[index + 1] if index + 1 < len(self.sample_starts) else len(self.stroke_starts)
        bounds = [*self.stroke_starts[first:last], self._stroke_end(last - 1)]
        return [self.points[a:b].astype(np.float64) for a, b in zip(bounds[:-1], bounds[1:])]

    def _stroke_end(self, stroke: int) -> int:
        return int(self.stroke_starts[stroke + 1]) if stroke + 1 < len(self.stroke_starts) else len(self.points)

    def subset(self, mask: np.ndarray) -> "PenDigits":
        """The digits where ``mask`` is True, as a new :class:`PenDigits`."""
        keep = np.flatnonzero(mask)
        strokes = [self.strokes(i) for i in keep]
        lengths = [len(s) for s in strokes]
        flat = [stroke for sample in strokes for stroke in sample]
        sizes = np.array([len(s) for s in flat], dtype=np.int64)
        points = np.concatenate(flat).astype(np.int32) if flat else np.zeros((0, 2), np.int32)
        return PenDigits(
            points=points,
            stroke_starts=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if flat else sizes,
            sample_starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if keep.size else keep,
            labels=self.labels[keep],
            sources=self.sources[keep],
        )


def load_pen_digits(path: str | Path) -> PenDigits:
    """Read pen digits from an ``.npz`` file (``points``, ``stroke_starts``, ``sample_starts``,
    ``labels``, ``sources``; the layout of ``unipen_dev.npz``).

    Raises
    ------
    DatasetError
        Missing file, a missing array, or arrays whose lengths disagree.
    """
    return _load_pen(path, what="pen digit", labels_dtype=np.uint8)


def load_pen_letters(path: str | Path) -> PenDigits:
    """Read pen letters (``unipen_letters_dev.npz``: the digits' layout, each label a letter, ``"K"``).

    Raises
    ------
    DatasetError
        Missing file, a missing array, or arrays whose lengths disagree.
    """
    return _load_pen(path, what="pen letter", labels_dtype=str)


def _load_pen(path: str | Path, *, what: str, labels_dtype) -> PenDigits:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{what} file {path} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in ("points", "stroke_starts", "sample_starts", "labels", "sources")}
    except KeyError as exc:
        raise DatasetError(f"{path} lacks the array {exc}; expected points, stroke_starts, sample_starts, labels, sources.") from exc
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} is not a readable .npz file: {exc}.") from exc
    n = len(arrays["labels"])
    if len(arrays["sample_starts"]) != n or len(arrays["sources"]) != n:
        raise DatasetError(f"{path}: {n} labels but {len(arrays['sample_starts'])} samples and {len(arrays['sources'])} sources.")
    return PenDigits(
        points=arrays["points"].astype(np.int32),
        stroke_starts=arrays["stroke_starts"].astype(np.int64),
        sample_starts=arrays["sample_starts"].astype(np.int64),
        labels=arrays["labels"].astype(labels_dtype),
        sources=arrays["sources"].astype(str),
    )


@dataclass(frozen=True)
class LabelledImage:
    """One row of ``labels.csv``: an image file, its digit string and optional boxes ``(x, y, w, h)``."""

    path: Path
    label: str
    boxes: tuple[tuple[int, int, int, int], ...] | None = None


@dataclass(frozen=True)
class LabelledSet:
    """A folder of labelled images (``labels.csv``: ``file,label[,boxes]``)."""

    folder: Path
    items: tuple[LabelledImage, ...]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def single_digits(self) -> bool:
        """True when every label is one digit (a set of digit crops, not of numbers)."""
        return all(len(item.label) == 1 for item in self.items)

    def where(self, keep) -> "LabelledSet":
        """The items for which ``keep(item)`` is true."""
        return LabelledSet(self.folder, tuple(item for item in self.items if keep(item)))


def load_labelled_set(folder: str | Path) -> LabelledSet:
    """Read ``folder/labels.csv``: a ``file`` column (relative to the folder), a ``label`` column (a
    digit string) and an optional ``boxes`` column (a JSON list of ``[x, y, w, h]``, one per digit).

    Raises
    ------
    DatasetError
        No folder or labels file, a missing column, a label that is not a digit string, or boxes whose
        count differs from the label's length.
    """
    folder = Path(folder)
    labels_path = folder / LABELS_FILENAME
    if not labels_path.is_file():
        raise DatasetError(f"{folder} has no {LABELS_FILENAME}; expected a CSV with columns file,label[,boxes].")
    with open(labels_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "label"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{labels_path} lacks the column(s) {sorted(missing)}; expected file,label[,boxes].")
        items = []
        for number, row in enumerate(reader, start=2):
            label = (row["label"] or "").strip()
            if not label.isdigit() or not label.isascii():
                raise DatasetError(f"{labels_path}:{number}: label {label!r} is not a string of digits 0-9.")
            boxes = None
            if row.get("boxes"):
                try:
                    boxes = tuple(tuple(int(v) for v in box) for box in json.loads(row["boxes"]))
                except (ValueError, TypeError) as exc:
                    raise DatasetError(f"{labels_path}:{number}: boxes are not a JSON list of [x, y, w, h]: {exc}.") from exc
                if len(boxes) != len(label) or any(len(box) != 4 for box in boxes):
                    raise DatasetError(f"{labels_path}:{number}: {len(boxes)} boxes for the {len(label)} digits of {label!r}.")
            items.append(LabelledImage(folder / row["file"], label, boxes))
    return LabelledSet(folder, tuple(items))


def held_out(key: str, *, fraction: float = 0.5, salt: str = "digit-held-out") -> bool:
    """Whether the document or writer named ``key`` belongs to the held-out part of a split.

    A hash of the key decides, so the split is the same on every machine, never depends on the order
    of files, and keeps every sample of one document or writer on one side.
    """
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


@dataclass(frozen=True)
class PenStyle:
    """How a pen digit is drawn on the canvas: ranges its height and brush are drawn from, pixels."""

    height: tuple[float, float]
    brush: tuple[float, float]


#: The ways people draw on the app's 400x400 canvas: the default 22 px brush and others, digits from
#: a third of the canvas to most of it, and small digits drawn with a fat brush, whose loops close
#: up (held-out writers drawn that way: 92.8% read right by a model without pen data, 94.4% with).
#: A third style, a fine pen (4-10 px), added nothing on held-out writers or cheques and cost MNIST.
PEN_STYLES = (
    PenStyle(height=(100.0, 300.0), brush=(15.0, 30.0)),
    PenStyle(height=(60.0, 140.0), brush=(18.0, 30.0)),
)


def frame_pen_digits(
    pen: PenDigits,
    *,
    styles: tuple[PenStyle, ...] = PEN_STYLES,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw every pen digit once per style, as the sketchpad would, and frame each drawing.

    Each drawing goes through :func:`digit_core.framing.to_mnist_frame`, exactly as the app frames
    what people draw, so the model trains on what it will be served.

    Parameters
    ----------
    pen : PenDigits
    styles : tuple of PenStyle
        One drawing per digit and style, its height and brush drawn uniformly from the style's ranges.
    random_state : int
    n_jobs : int, optional
        joblib workers.

    Returns
    -------
    frames : ndarray of shape (n_frames, 28, 28), float32 in [0, 1]
    labels : ndarray of shape (n_frames,), uint8
        Drawings that frame to nothing (a digit of a single dot) are left out.
    """
    frames, index = frame_pen_samples(pen, styles=styles, random_state=random_state, n_jobs=n_jobs)
    return frames, pen.labels[index].astype(np.uint8)


def frame_pen_samples(
    pen: PenDigits,
    *,
    styles: tuple[PenStyle, ...] = PEN_STYLES,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`frame_pen_digits` for samples of any label (digits, letters): the frames and the index
    of the sample each frame was drawn from.

    Returns
    -------
    frames : ndarray of shape (n_frames, 28, 28), float32 in [0, 1]
    index : ndarray of shape (n_frames,), int64
        ``pen.labels[index]`` and ``pen.sources[index]`` are each frame's label and site.
    """
    rng = np.random.default_rng(random_state)
    jobs = []
    for style in styles:
        heights = rng.uniform(*style.height, size=len(pen))
        brushes = rng.uniform(*style.brush, size=len(pen))
        jobs.extend(zip(range(len(pen)), heights, brushes))
    chunks = [jobs[i : i + 500] for i in range(0, len(jobs), 500)]
    parts = Parallel(n_jobs=n_jobs)(delayed(_frame_chunk)(pen, chunk) for chunk in chunks)
    frames = [frame for part in parts for frame, _ in part]
    index = np.array([i for part in parts for _, i in part], dtype=np.int64)
    if not frames:
        return np.zeros((0, 28, 28), np.float32), index
    return np.stack(frames).astype(np.float32), index


def _frame_chunk(pen: PenDigits, chunk) -> list[tuple[np.ndarray, int]]:
    out = []
    for index, height, brush in chunk:
        try:
            frame = to_mnist_frame(draw_strokes(pen.strokes(index), height=height, brush=brush))
        except NoDigitFoundError:
            continue
        out.append((frame, int(index)))
    return out


def draw_pen_number(
    pen: PenDigits,
    indices,
    *,
    height: float,
    brush: float,
    gaps,
    canvas: tuple[int, int] = (800, 400),
) -> np.ndarray:
    """Pen digits written left to right as one number on a wide canvas, as a person draws it.

    Parameters
    ----------
    pen : PenDigits
    indices : sequence of int
        The digits, left to right.
    height : float
        Height of each digit, pixels (all shrink together when the number would not fit).
    brush : float
        Brush diameter, pixels.
    gaps : sequence of float
        Space between the ink of neighbouring digits, in digit heights (``len(indices) - 1`` values).
    canvas : (width, height)

    Returns
    -------
    ndarray of shape (canvas height, canvas width, 4), uint8
        RGBA, as :func:`digit_core.strokes.draw_strokes` draws.
    """
    strokes = [pen.strokes(int(i)) for i in indices]
    aspects = []
    for digit in strokes:
        points = np.concatenate(digit)
        aspects.append(np.ptp(points[:, 0]) / max(np.ptp(points[:, 1]), 1.0))
    # Ink widths: the trajectory's, plus half a brush of ink on each side.
    widths = [max(a * height, 1.0) + brush for a in aspects]
    spaces = [g * height for g in gaps]
    total = sum(widths) + sum(spaces)
    fit = min(1.0, 0.95 * canvas[0] / total)
    x = (canvas[0] - fit * total) / 2
    out = np.zeros((canvas[1], canvas[0], 4), dtype=np.uint8)
    for k, digit in enumerate(strokes):
        width = fit * widths[k]
        drawn = draw_strokes(digit, height=fit * height, brush=brush, canvas=canvas, centre=(x + width / 2, canvas[1] / 2))
        out = np.maximum(out, drawn)
        x += width + (fit * spaces[k] if k < len(spaces) else 0.0)
    return out


def document_key(item: LabelledImage) -> str:
    """The document an image comes from: its file name up to the first dot (``a_car_000720_png``
    for ``a_car_000720_png.rf.<hash>.jpg``), so that every export of one cheque shares a key."""
    return item.path.name.split(".")[0]
