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
from .inference import predict_proba
from .rejection import digit_likeness
from .scan import DigitRegion, find_digits

__all__ = ["ReadDigit", "Reading", "read_digits", "a_digit", "is_drawing", "PAGE_WORKING_SIDE"]

#: Pages are read at most this many pixels on their longer side (a 12 MP photo is reduced ~2.5x).
PAGE_WORKING_SIDE = 1600
#: A single digit is reduced to no less than this before framing (which works at 256 px).
_SINGLE_WORKING_SIDE = 512
#: An image with fewer grey pixels than this (between ink and paper) is a drawing: see is_drawing.
_DRAWING_MIDTONES = 0.05


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
        How much the frame looks like a digit at all (:func:`digit_core.rejection.digit_likeness`):
        below 0 it looks like a letter, a scribble or a blot; None when the model cannot tell.
    """

    frame: np.ndarray
    probabilities: np.ndarray
    box: tuple[int, int, int, int]
    likeness: float | None = None

    @property
    def looks_like_a_digit(self) -> bool:
        return self.likeness is None or self.likeness >= 0.0

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


def read_digits(model, image, *, single: bool = False, working_side: int = PAGE_WORKING_SIDE) -> Reading:
    """Read every digit in an image, left to right.

    Parameters
    ----------
    model : estimator with ``predict_proba`` over flattened frames
    image : PIL.Image.Image or ndarray
        Any mode :func:`digit_core.images.to_grayscale` accepts (upright: apply EXIF rotation first,
        as :func:`digit_core.images.open_image` does).
    single : bool, default=False
        Treat the whole image as one digit (no segmentation).
    working_side : int
        The page is reduced to at most this many pixels on its longer side before segmentation;
        boxes are given back in the original coordinates.

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
    # Only a drawing is judged "not a digit": the rejector learnt from strokes on plain paper, and
    # scans and photos (a cheque's security pattern, JPEG noise) are not what it knows.
    judged = is_drawing(grey)
    if single:
        return Reading((_whole(model, grey, (0, 0, width, height), judged=judged),))
    scale = min(1.0, working_side / max(grey.shape))
    if scale < 1.0:
        grey = resize(grey, (max(1, round(grey.shape[0] * scale)), max(1, round(grey.shape[1] * scale))))
    scale /= factor
    ink, mask = extract_ink(grey)
    regions = find_digits(mask)
    if not regions:
        raise NoDigitFoundError("no digit found: only lines, borders or specks were left after clean-up.")
    frames = [_frame_region(grey, ink, region) for region in regions]
    probabilities = predict_proba(model, np.stack(frames))
    line_height = float(np.median([r.height for r in regions]))
    read: list[tuple[DigitRegion, np.ndarray, np.ndarray]] = []
    for region, frame, p in zip(regions, frames, probabilities):
        read.extend(_split_touching_by_reading(model, grey, ink, region, frame, p, line_height=line_height, drawn=judged))
    if len(read) == 1:
        # One digit: framed from the whole image, as a single digit is framed best (the drawing path
        # and an upload of one digit agree with reading it with single=True).
        try:
            return Reading((_whole(model, grey, _page_box(read[0][0].box, scale, width, height), judged=judged),))
        except NoDigitFoundError:
            pass
    likeness = digit_likeness(model, np.stack([frame for _, frame, _ in read])) if judged else None
    return Reading(
        tuple(
            ReadDigit(frame, p, _page_box(region.box, scale, width, height), None if likeness is None else float(likeness[k]))
            for k, (region, frame, p) in enumerate(read)
        )
    )


def is_drawing(grey: np.ndarray) -> bool:
    """Whether an image is strokes on plain paper, as the canvas sends: hardly any grey between ink
    and paper (under 5% of pixels; canvas drawings have under 1%, scans and photos of paper most)."""
    grey = np.asarray(grey, dtype=np.float32)
    return float(np.mean((grey > 0.15) & (grey < 0.85))) < _DRAWING_MIDTONES


def _whole(model, grey: np.ndarray, box: tuple[int, int, int, int], *, judged: bool) -> ReadDigit:
    frame = to_mnist_frame(grey)
    likeness = digit_likeness(model, frame[None]) if judged else None
    return ReadDigit(frame, predict_proba(model, frame[None])[0], box, None if likeness is None else float(likeness[0]))


#: A mark at least this many times as wide as the line's digits are tall may be touching digits
#: (two 0s often are no wider than that: dev-half cheque amounts read exactly 52.9% at 1.2, 55.2%
#: at 1.0, 53.8% at 0.8)...
_TOUCHING_WIDTH = 1.0
#: ...or, on a drawing, this many (a letter drawn as one wide mark, a K or a W, is cut into two
#: digit-like halves at 1.0; drawn numbers leave gaps between their digits more often)...
_DRAWN_TOUCHING_WIDTH = 1.2
#: ...and is tried as two unless it is one digit at least this surely (see _sureness)...
_SURE_OF_ONE = 0.9
#: ...or it is at least this wide, which single digits hardly ever are (cheque digits' 95th percentile
#: of width / height is 1.4): then it is cut at its best place whatever the whole reads as. On the
#: dev half of the cheques: digit boxes found 77.9% -> 83.1%, amounts with the right digit count
#: 57.8% -> 66.3% (at 1.8: 80.7%, 62.5%; at 1.35, too many digits grow from 30 to 58 of 400).
_SURELY_TOUCHING_WIDTH = 1.5
#: On a drawing, a mark is cut in two only when both halves look like digits by this margin of the
#: rejector's likeness: a letter or a scribble cut in two must not pass for a number. Refused as
#: "not a digit" as the app reads them (held-out fonts' letters / scribbles): 76.2% / 66.3% before
#: this round, 63.9% / 56.3% with cuts judged by sureness alone, 82.0% / 78.7% with this margin
#: and the drawn width above; touching pen 0s still read "00" 19 and overlapping ones 14 of 20
#: (without either, 20 and 16).
_DRAWN_HALF_LIKENESS = 0.75
#: A digit of a number is framed from its crop with this margin (a fraction of its longer side).
_CROP_MARGIN = 0.2
#: Cuts are tried at the thinnest columns in the middle part of the mark, this far from either side.
_CUT_MARGIN = 0.25


def _frame_region(grey: np.ndarray, ink: np.ndarray, region: DigitRegion) -> np.ndarray:
    # The digit cut from the page with a margin, as a crop of one digit is framed, with every pixel
    # but its strokes and their edge (2 px around them) turned to paper: its neighbours' strokes go,
    # and its faint strokes are thresholded against the paper around it, not the whole page's.
    # Dev-half cheque amounts read exactly: 42.8% -> 45.0% (numbers of MNIST digits: 93.3% -> 95.3%).
    left, top, right, bottom = region.box
    near = ndimage.binary_dilation(np.pad(region.mask, 2), iterations=2)[2:-2, 2:-2]
    margin = int(_CROP_MARGIN * max(region.height, region.width)) + 2
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


def _split_touching_by_reading(model, grey, ink, region, frame, probabilities, *, line_height: float, drawn: bool, depth: int = 0):
    # Touching digits that segmentation left as one wide mark: try a cut at each of the thinnest
    # columns of its middle part, read both halves, and keep the cut whose halves are together more
    # surely digits than the mark is one (_sureness: the classifier's top probability alone read
    # "0" from a half ring as surely as from a ring, so cuts through a 0 won as often as cuts
    # between two 0s; weighed by the rejector's digit likeness, dev-half cheque amounts read
    # exactly 45.2% -> 50.9%, digit boxes found 87.8% -> 90.6%). Halves may split again (000).
    whole = [(region, frame, probabilities)]
    height = max(region.height, line_height)
    touching_width = _DRAWN_TOUCHING_WIDTH if drawn else _TOUCHING_WIDTH
    if depth >= 3 or region.width < touching_width * height:
        return whole
    surely_several = region.width >= _SURELY_TOUCHING_WIDTH * height
    whole_sureness = float(_sureness(probabilities[None], digit_likeness(model, frame[None]))[0])
    if whole_sureness >= _SURE_OF_ONE and not surely_several:
        return whole
    profile = ndimage.uniform_filter1d(region.mask.sum(axis=0).astype(float), size=3)
    lo, hi = int(_CUT_MARGIN * region.width), int((1 - _CUT_MARGIN) * region.width)
    if hi - lo < 2:
        return whole
    candidates = lo + np.argsort(profile[lo:hi], kind="stable")[:3]
    # Two touching 0s meet where the ink is thickest, not thinnest: add the columns where the mark's
    # outline dips deepest from the top and rises highest from the bottom (the notches between two
    # digits). Dev-half cheque amounts read exactly: 40.2% -> 42.2%.
    candidates = np.unique(np.concatenate([candidates, lo + _notches(region.mask[:, lo:hi])]))
    # A mark this wide is cut at its best place however surely it reads as one digit.
    best, best_score = None, -1.0 if surely_several else whole_sureness
    for cut in candidates:
        halves = [region.columns(0, int(cut)), region.columns(int(cut), region.width)]
        if any(h is None for h in halves):
            continue
        half_frames = np.stack([_frame_region(grey, ink, h) for h in halves])
        likeness = digit_likeness(model, half_frames)
        if drawn and likeness is not None and (likeness < _DRAWN_HALF_LIKENESS).any():
            continue
        half_probabilities = predict_proba(model, half_frames)
        score = float(_sureness(half_probabilities, likeness).prod())
        if score > best_score:
            best, best_score = (halves, half_frames, half_probabilities), score
    if best is None:
        return whole
    out = []
    for half, half_frame, half_p in zip(*best):
        out.extend(_split_touching_by_reading(model, grey, ink, half, half_frame, half_p, line_height=line_height, drawn=drawn, depth=depth + 1))
    return out


def _sureness(probabilities: np.ndarray, likeness: np.ndarray | None) -> np.ndarray:
    """How surely each frame is one digit, in [0, 1], shape (n,): its top probability (from
    ``probabilities``, shape (n, 10)) times the logistic of its digit likeness (shape (n,), from
    :func:`digit_core.rejection.digit_likeness`; the top probability alone when None).

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
