"""Reading every digit in an image: the one function behind predict.py, /read and the Upload tab."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from .confidence import reading_confidence
from .errors import NoDigitFoundError
from .framing import extract_ink, frame_from_ink, resize, to_mnist_frame
from .images import shrink, to_grayscale
from .inference import read_frames
from .presets import ReadingPreset, choose_preset, is_drawing
from .scan import DigitRegion, find_digits

__all__ = ["ReadDigit", "Reading", "read_digits", "a_digit", "is_drawing", "PAGE_WORKING_SIDE"]

#: Pages are read at most this many pixels on their longer side (a 12 MP photo is reduced ~2.5x).
PAGE_WORKING_SIDE = 1600
#: A single digit is reduced to no less than this before framing (which works at 256 px).
_SINGLE_WORKING_SIDE = 512


def a_digit(digit) -> str:
    """A digit with its article, as a sentence says it: "a 7", "an 8"."""
    return f"an {digit}" if str(digit) == "8" else f"a {digit}"


@dataclass(frozen=True)
class ReadDigit:
    """One digit read from an image: what the model saw, what it thinks, and where it stands.

    Attributes
    ----------
    frame : ndarray of shape (28, 28), float32 in [0, 1]
        The MNIST frame the model read.
    probabilities : ndarray of shape (10,)
        Calibrated probability of each digit 0-9; sums to 1.
    box : (left, top, right, bottom)
        In the original image's pixel coordinates, right and bottom exclusive.
    likeness : float or None
        How much the frame looks like a digit at all
        (:meth:`digit_core.digit_model.DigitModel.digit_likeness`): the lower, the more like a
        letter, a scribble or a blot; None when the model cannot tell or the image's preset is not
        judged.
    refuse_likeness : float
        Below this likeness the mark is not a digit (its preset's
        :attr:`~digit_core.presets.ReadingPreset.refuse_likeness`).
    maybe_not_a_digit : bool
        Read as a digit, but with a likeness low enough that it may be a letter or a scribble: the
        page shows the digit with a note instead of refusing it.
    """

    frame: np.ndarray
    probabilities: np.ndarray
    box: tuple[int, int, int, int]
    likeness: float | None = None
    maybe_not_a_digit: bool = False
    refuse_likeness: float = 0.0

    @property
    def looks_like_a_digit(self) -> bool:
        return self.likeness is None or self.likeness >= self.refuse_likeness

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    def top(self, k: int = 3) -> dict[str, float]:
        """The ``k`` most likely digits, as ``{"7": 0.98, ...}`` in decreasing order."""
        order = np.argsort(self.probabilities)[::-1][:k]
        return {str(int(d)): float(self.probabilities[d]) for d in order}


@dataclass(frozen=True)
class Reading:
    """All digits read from one image, left to right: the one answer for a drawing, an upload or an
    API call (a single digit is a reading of length one)."""

    digits: tuple[ReadDigit, ...]

    @property
    def text(self) -> str:
        """The digit string, e.g. ``"90210"``."""
        return "".join(str(d.digit) for d in self.digits)

    @property
    def confidence(self) -> float:
        """Probability that the whole string is right (:func:`digit_core.confidence.reading_confidence`)."""
        return reading_confidence(self.digits)

    @property
    def not_digits(self) -> list[int]:
        """Positions (0-based, left to right) of the marks that do not look like digits at all."""
        return [i for i, d in enumerate(self.digits) if not d.looks_like_a_digit]

    def refusal(self) -> str | None:
        """Why this is not read as digits (``"not a digit: ..."``), or None.

        A single mark is refused when it does not look like a digit; a number only when none of its
        marks does (a cheque's or a form's odd marks beside real digits are still read)."""
        if not self.digits or len(self.not_digits) < len(self.digits):
            return None
        if len(self.digits) == 1:
            return "not a digit: that doesn't look like a digit. Draw it larger, or with a thinner brush if its loops fill up."
        return "not a digit: none of these marks looks like a digit. Write digits 0-9, a little apart."


def read_digits(
    model, image, *, single: bool = False, working_side: int = PAGE_WORKING_SIDE, preset: ReadingPreset | None = None
) -> Reading:
    """Read every digit in an image, left to right.

    Parameters
    ----------
    model : DigitModel
    image : PIL.Image.Image or ndarray
        Any mode :func:`digit_core.images.to_grayscale` accepts (upright: apply EXIF rotation first,
        as :func:`digit_core.images.open_image` does).
    single : bool, default=False
        Treat the whole image as one digit (no segmentation).
    working_side : int
        The page is reduced to at most this many pixels on its longer side before segmentation;
        boxes are given back in the original coordinates.
    preset : ReadingPreset, optional
        How to read it (:mod:`digit_core.presets`); by default chosen from the image by
        :func:`digit_core.presets.choose_preset`.

    Returns
    -------
    Reading

    Raises
    ------
    NoDigitFoundError
        No ink, or nothing digit-like after removing specks and lines.
    InvalidImageError
        Not an image array of an accepted shape and dtype.
    """
    factor = 1
    if isinstance(image, Image.Image):
        width, height = image.size
        # A large photo is reduced by whole blocks of pixels first: never a full-size float copy.
        image, factor = shrink(image, _SINGLE_WORKING_SIDE if single else working_side)
    grey = to_grayscale(image)
    if factor == 1:
        height, width = grey.shape
    preset = preset if preset is not None else choose_preset(grey)
    if single:
        return Reading((_whole(model, grey, (0, 0, width, height), preset),))
    scale = min(1.0, working_side / max(grey.shape))
    if scale < 1.0:
        grey = resize(grey, (max(1, round(grey.shape[0] * scale)), max(1, round(grey.shape[1] * scale))))
    scale /= factor
    ink, mask = extract_ink(grey)
    regions = find_digits(mask)
    if not regions:
        raise NoDigitFoundError("no digit found: only lines, borders or specks were left after clean-up.")
    line = (float(np.median([r.box[1] for r in regions])), float(np.median([r.height for r in regions])))
    page = _Page(model, grey, ink, line[1], preset, alone=len(regions) == 1)
    read: list[_Mark] = []
    for mark in page.marks(regions):
        read.extend(_split_touching_by_reading(page, mark))
    # Dashes, underlines and commas left beside the digits, or cut off a digit they touched, are
    # not read as digits (unless nothing else is left).
    punctuation = _punctuation([mark.region for mark in read], line, preset)
    read = [mark for mark, dropped in zip(read, punctuation) if not dropped] or read
    if len(read) == 1:
        # One digit: framed from the whole image, as a single digit is framed best (the drawing path
        # and an upload of one digit agree with reading it with single=True).
        try:
            return Reading((_whole(model, grey, _page_box(read[0].region.box, scale, width, height), preset),))
        except NoDigitFoundError:
            pass
    return Reading(tuple(mark.as_read(_page_box(mark.region.box, scale, width, height), preset) for mark in read))


def _whole(model, grey: np.ndarray, box: tuple[int, int, int, int], preset: ReadingPreset) -> ReadDigit:
    frame = to_mnist_frame(grey)
    probabilities, likeness = read_frames(model, frame[None], per_class=preset.judged)
    return _Mark(None, frame, probabilities[0], None if likeness is None else float(likeness[0])).as_read(box, preset)


@dataclass(frozen=True)
class _Mark:
    """One mark on the page, read: its region, frame, probabilities ``(10,)`` and digit likeness."""

    region: DigitRegion | None
    frame: np.ndarray
    probabilities: np.ndarray
    likeness: float | None

    def as_read(self, box: tuple[int, int, int, int], preset: ReadingPreset) -> ReadDigit:
        # Only a judged preset's marks carry their likeness: the others are never refused.
        if not preset.judged or self.likeness is None:
            return ReadDigit(self.frame, self.probabilities, box)
        doubtful = preset.refuse_likeness <= self.likeness < preset.doubt_likeness
        return ReadDigit(self.frame, self.probabilities, box, self.likeness, doubtful, preset.refuse_likeness)


@dataclass(frozen=True)
class _Page:
    """What reading one page needs throughout: the model, the page, its line height and preset, and
    whether segmentation found one mark only."""

    model: object
    grey: np.ndarray
    ink: np.ndarray
    line_height: float
    preset: ReadingPreset
    alone: bool = False

    def marks(self, regions: list[DigitRegion]) -> list[_Mark]:
        """The regions framed (:func:`_frame_region`) and read in one batch."""
        frames = [_frame_region(self.grey, self.ink, region, crop_margin=self.preset.crop_margin) for region in regions]
        # A judged page refuses by the line of the digit read; a page nothing is refused from weighs
        # its cuts by one line for all digits. Lines per digit favoured cuts into halves read as 1
        # (whose line is lowest): first 200 cheque amounts 57.3% exact, one line 60.0%.
        probabilities, likeness = read_frames(self.model, np.stack(frames), per_class=self.preset.judged)
        return [
            _Mark(region, frame, p, None if likeness is None else float(likeness[k]))
            for k, (region, frame, p) in enumerate(zip(regions, frames, probabilities))
        ]


def _frame_region(grey: np.ndarray, ink: np.ndarray, region: DigitRegion, *, crop_margin: float) -> np.ndarray:
    # The digit cut from the page with a margin, as a crop of one digit is framed, with every pixel
    # but its strokes and their edge (2 px around them) turned to paper: its neighbours' strokes go,
    # and its faint strokes are thresholded against the paper around it, not the whole page's.
    # Dev-half cheque amounts read exactly: 42.8% -> 45.0% (numbers of MNIST digits: 93.3% -> 95.3%).
    left, top, right, bottom = region.box
    near = ndimage.binary_dilation(np.pad(region.mask, 2), iterations=2)[2:-2, 2:-2]
    margin = int(crop_margin * max(region.height, region.width)) + 2
    crop_top, crop_left = max(0, top - margin), max(0, left - margin)
    crop = grey[crop_top : bottom + margin, crop_left : right + margin].copy()
    strokes = np.zeros(crop.shape, dtype=bool)
    strokes[top - crop_top : bottom - crop_top, left - crop_left : right - crop_left] = near
    if not strokes.all():
        crop[~strokes] = np.median(crop[~strokes])
    try:
        return to_mnist_frame(crop)
    except NoDigitFoundError:
        return frame_from_ink(ink[top:bottom, left:right] * near, region.mask)


def _page_box(box: tuple[int, int, int, int], scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return (
        int(np.floor(left / scale)),
        int(np.floor(top / scale)),
        int(min(width, np.ceil(right / scale))),
        int(min(height, np.ceil(bottom / scale))),
    )


def _split_touching_by_reading(page: _Page, mark: _Mark, depth: int = 0) -> list[_Mark]:
    # Touching digits that segmentation left as one wide mark: try a cut at each of the thinnest
    # columns of its middle part, read both halves, and keep the cut whose halves are together more
    # surely digits than the mark is one (_sureness: the classifier's top probability alone read
    # "0" from a half ring as surely as from a ring, so cuts through a 0 won as often as cuts
    # between two 0s; weighed by the rejector's digit likeness, dev-half cheque amounts read
    # exactly 45.2% -> 50.9%, digit boxes found 87.8% -> 90.6%). Halves may split again (000).
    preset, region = page.preset, mark.region
    height = max(region.height, page.line_height)
    if depth >= 3 or region.width < preset.touching_width * height:
        return [mark]
    whole_sureness = float(_sureness(mark.probabilities[None], None if mark.likeness is None else np.array([mark.likeness]))[0])
    # A page's only mark sets the line's height itself, so its width says little: read as one digit
    # surely enough, it is one wide digit unless its halves are far surer digits than it is one.
    alone = page.alone and depth == 0 and preset.alone_sure_of_one is not None and whole_sureness >= preset.alone_sure_of_one
    surely_several = region.width >= preset.surely_touching_width * height and not alone
    if whole_sureness >= preset.sure_of_one and not surely_several:
        return [mark]
    # A mark this wide is cut at its best place however surely it reads as one digit.
    best, best_score = None, -1.0 if surely_several else whole_sureness + (preset.alone_cut_margin if alone else 0.0)
    for cut in _cut_candidates(region, preset):
        halves = [region.columns(0, int(cut)), region.columns(int(cut), region.width)]
        if any(h is None for h in halves):
            continue
        read = page.marks(halves)
        likeness = None if read[0].likeness is None else np.array([m.likeness for m in read])
        if preset.half_likeness is not None and likeness is not None and (likeness < preset.half_likeness).any():
            continue
        score = float(_sureness(np.stack([m.probabilities for m in read]), likeness).prod())
        if score > best_score:
            best, best_score = read, score
    if best is None:
        return [mark]
    return [piece for half in best for piece in _split_touching_by_reading(page, half, depth + 1)]


def _punctuation(regions: list[DigitRegion], line: tuple[float, float], preset: ReadingPreset) -> np.ndarray:
    """Which of a line's marks (left to right) are punctuation rather than digits, shape (n,) bool.

    By shape against the line's ``(top, height)`` (medians of its marks, pixels): flat and low (a
    dash, an underline, a piece of a rule), hanging under the line (a comma, the tail of ",-"), or
    ending the line small and faint (a tick, "=" or ":" after the amount).
    """
    top, height = line
    heights = np.array([r.height for r in regions], dtype=float)
    widths = np.array([r.width for r in regions], dtype=float)
    ink = np.array([r.mask.sum() for r in regions], dtype=float)
    flat = (heights < preset.dash_height * height) & (widths >= preset.dash_aspect * heights)
    below = np.array([r.box[1] for r in regions]) - top >= preset.below_line * height
    dropped = flat | below
    kept = np.flatnonzero(~dropped)
    if len(kept) >= 2:
        last = kept[-1]
        dropped[last] = heights[last] < preset.trailing_height * height and ink[last] < preset.trailing_ink * np.median(ink[kept])
    return dropped


def _cut_candidates(region: DigitRegion, preset: ReadingPreset) -> np.ndarray:
    """Columns to try cutting a mark at: the three thinnest of its middle part, and its notches."""
    profile = ndimage.uniform_filter1d(region.mask.sum(axis=0).astype(float), size=3)
    lo, hi = int(preset.cut_margin * region.width), int((1 - preset.cut_margin) * region.width)
    if hi - lo < 2:
        return np.zeros(0, dtype=int)
    candidates = lo + np.argsort(profile[lo:hi], kind="stable")[:3]
    # Two touching 0s meet where the ink is thickest, not thinnest: add the columns where the mark's
    # outline dips deepest from the top and rises highest from the bottom (the notches between two
    # digits). Dev-half cheque amounts read exactly: 40.2% -> 42.2%.
    return np.unique(np.concatenate([candidates, lo + _notches(region.mask[:, lo:hi])]))


def _sureness(probabilities: np.ndarray, likeness: np.ndarray | None) -> np.ndarray:
    """How surely each frame is one digit, in [0, 1], shape (n,): its top probability (from
    ``probabilities``, shape (n, 10)) times the logistic of its digit likeness (shape (n,), from
    :meth:`digit_core.digit_model.DigitModel.digit_likeness`; the top probability alone when None).

    The classifier names a digit surely whatever it is shown (98% of cheque crops above 0.99,
    and as surely the half rings a bad cut leaves of two touching 0s); the rejector tells a digit
    from a part of one.
    """
    top = probabilities.max(axis=1)
    return top if likeness is None else top / (1.0 + np.exp(-likeness))


def _notches(mask: np.ndarray) -> np.ndarray:
    """Columns of a mark's deepest notch from the top and from the bottom, shape (2,)."""
    height = mask.shape[0]
    inked = mask.any(axis=0)
    top = np.where(inked, mask.argmax(axis=0), height).astype(float)
    bottom = np.where(inked, height - mask[::-1].argmax(axis=0), 0).astype(float)
    top, bottom = ndimage.uniform_filter1d(top, 3), ndimage.uniform_filter1d(bottom, 3)
    return np.array([int(np.argmax(top)), int(np.argmin(bottom))])
