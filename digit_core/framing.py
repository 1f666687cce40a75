"""Any drawing or scan -> the MNIST frame, and deskewing by moments.

The MNIST frame is a ``(28, 28)`` float32 array in [0, 1]: a bright digit on black, scaled so that
its longer side fills a 20x20 box (aspect ratio kept), and translated so that its centre of mass is at
pixel (14, 14) (row, column, counted from 0). Each stage is a pure function over numpy arrays:

``to_grayscale`` (in :mod:`digit_core.images`) -> :func:`extract_ink` (polarity, paper tone,
threshold, specks) -> :func:`frame_from_ink` (crop, stroke width, 20x20 box, centre of mass).
:func:`to_mnist_frame` chains them. :func:`deskew` straightens a batch of frames.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.morphology import skeletonize

from .errors import InvalidImageError, NoDigitFoundError
from .images import to_grayscale

__all__ = [
    "FRAME_SIZE",
    "BOX_SIZE",
    "MNIST_STROKE_WIDTH",
    "to_mnist_frame",
    "extract_ink",
    "frame_from_ink",
    "resize",
    "estimate_stroke_width",
    "deskew",
]

#: Side of the MNIST frame, in pixels.
FRAME_SIZE = 28
#: Side of the box the digit's longer side is scaled to.
BOX_SIZE = 20
#: Median stroke width of MNIST digits in the 20x20 box (measured on the training set: pixels > 127,
#: area / skeleton length; the 5th-95th percentiles are 1.8-4.2 px).
MNIST_STROKE_WIDTH = 2.8
#: Strokes thinner than this (in frame pixels) are redrawn at ``MNIST_STROKE_WIDTH``; thicker ones are
#: kept. Measured with the bundled model: thinning fat strokes (the old upper bound, 4.6 px) lost
#: more than it fixed: small pen digits drawn with a 30 px brush 94.3% -> 96.5% read right without
#: it, MNIST digits drawn with a 50 px brush 98.0% -> 99.5%; hairlines (2.5 px on a 280 px digit)
#: need thickening: 88% without, 99.5% with. Thickening from 1.5 px rather than 1.0 px keeps 4 more
#: of the 1,000 canvas drawings of MNIST digits right (thin 3s and 6s).
_STROKE_WIDTH_RANGE = (1.5, float("inf"))
#: Longest side an image is reduced to before its ink is measured: 12x the 20 px box is plenty
#: (512 was measured no better on drawn digits and three times slower).
_WORKING_SIDE = 256
#: Images whose longer side is shorter than this are enlarged to at least this before framing.
_SMALL_SIDE = 96
#: Side at which stroke width is measured (three times the 20 px box).
_WIDTH_SIDE = 60
#: Minimum tone difference between ink and paper, on a 0-1 scale, to count as a drawing.
_MIN_CONTRAST = 0.12
#: The paper is the tone nearer the median, but light paper wins unless the median lies at least
#: twice as near the dark end: a tight crop of a ballpoint 0 is half ink, and its ring must not be
#: taken for paper (dev-half cheque digit crops: 88.9% -> 90.0%, 0s 88.8% -> 92.8%). MNIST's white
#: digits on black, and light ink on dark paper, have their paper at the very median.
_PAPER_BIAS = 0.5
#: A crop of one digit: a mark at its left or right side, within this fraction of the width and with
#: less than this fraction of the largest mark's ink, is a neighbour's edge and is dropped. Dev-half
#: cheque digit crops: 90.0% -> 91.5% (5s 85% -> 90%, 7s 80% -> 86%); 91.2% at a 30% strip, 91.6%
#: for any mark smaller than the largest.
_NEIGHBOUR_STRIP = 0.35
_NEIGHBOUR_INK = 0.5
#: Pixels within this of the darkest or the lightest tone count as that tone when telling a two-tone
#: image (a binary scan) from a grey one.
_TWO_TONE = 1e-3
#: Otsu's ink and paper classes this many grain deviations apart are told apart by Otsu alone.
_CLEAR_SEPARATION = 6.0
#: A printed rule caught by a crop: rows inked across at least this fraction of the width, in a band
#: no thicker than 3 rows or 8% of the height, within 30% of the top or bottom edge. Measured on the
#: dev half of the cheque crops: 85.2% -> 86.8% read right (7s 72% -> 80%), 2s unchanged.
_RULED_ROW_COVER = 0.9
_RULED_MAX_ROWS = 3
_RULED_MAX_HEIGHT = 0.08
_RULED_EDGE = 0.3
#: Components smaller than this fraction of the largest one are specks.
_SPECK_FRACTION = 0.02
#: The ink's longer side must reach this fraction of the image's longer side (else: a dot, not a digit).
_MIN_EXTENT_FRACTION = 0.03


def to_mnist_frame(image, *, working_side: int = _WORKING_SIDE) -> np.ndarray:
    """Turn any drawing or scan of one digit into the MNIST frame.

    Parameters
    ----------
    image : PIL.Image.Image or ndarray
        Any mode or shape :func:`digit_core.images.to_grayscale` accepts; any size; dark ink on
        light paper or light ink on dark.
    working_side : int
        Larger images are first reduced (with anti-aliasing) so that their longer side is this long;
        images under 96 px are enlarged to at least 96 px.

    Returns
    -------
    ndarray of shape (28, 28), float32, values in [0, 1]

    Raises
    ------
    NoDigitFoundError
        The image is blank, uniform, too faint, or holds only a dot.
    InvalidImageError
        The input is not an image array of an accepted shape and dtype.
    """
    grey = to_grayscale(image)
    longest = max(grey.shape)
    background_size = None
    if longest > working_side:
        scale = working_side / longest
        grey = resize(grey, (max(1, round(grey.shape[0] * scale)), max(1, round(grey.shape[1] * scale))))
    elif longest < _SMALL_SIDE:
        # A tiny scan or a tight crop: enlarge it smoothly first, so that thresholding draws strokes
        # of several pixels instead of a staircase of single pixels. Small as it is, it has one paper
        # tone: no background opening.
        factor = int(np.ceil(_SMALL_SIDE / longest))
        grey = resize(grey, (grey.shape[0] * factor, grey.shape[1] * factor))
        background_size = max(grey.shape)
    return frame_from_ink(*extract_ink(grey, background_size=background_size, crop_of_one=True))


def extract_ink(
    grey: np.ndarray, *, background_size: int | None = None, crop_of_one: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Separate ink from paper.

    Decides polarity (the paper is the median tone, light paper favoured), removes uneven paper tone
    and shadows with a morphological opening larger than any stroke, thresholds with Otsu (never
    below the noise floor), drops specks, and scales the ink so that a full stroke is 1.

    Parameters
    ----------
    grey : ndarray of shape (H, W), float, values in [0, 1]
    background_size : int, optional
        Side of the square window used to estimate the paper tone; structures narrower than this are
        ink. Default: a third of the shorter side, at least 15 px.
    crop_of_one : bool, default=False
        The image holds one digit: a printed rule that crosses it near its top or bottom edge (a
        cheque's baseline) is removed too, and so is a neighbour's edge at its left or right side.
        Pages leave both to :mod:`digit_core.scan`.

    Returns
    -------
    ink : ndarray of shape (H, W), float32, values in [0, 1]
        Bright ink on a zero background.
    mask : ndarray of shape (H, W), bool
        The thresholded strokes, specks removed.

    Raises
    ------
    NoDigitFoundError
        Contrast below 0.12, or no stroke left after removing specks, or only a dot.
    """
    grey = np.asarray(grey, dtype=np.float32)
    if grey.ndim != 2:
        raise InvalidImageError(f"extract_ink expects a 2-D grey image; got shape {grey.shape}.")
    # The paper is the median tone; the ink is whichever extreme lies further from it, with light
    # paper favoured (_PAPER_BIAS). (Extremes, not percentiles: a thin stroke can cover well under 1%
    # of the pixels.) A two-tone image, a binary scan, is read by its border instead (_two_tone).
    sample = _sample(grey)
    low, median, high = float(grey.min()), float(np.median(sample)), float(grey.max())
    two_tone = _two_tone(sample, low, high)
    if two_tone:
        median = float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
    light_paper = (median - low) > _PAPER_BIAS * (high - median)
    ink = 1.0 - grey if light_paper else grey.copy()
    size = background_size or max(15, min(grey.shape) // 3)
    if two_tone:
        pass  # one paper tone, no shadows; an opening would eat a stroke wider than its window
    elif min(grey.shape) >= 3 * size:
        ink = ink - ndimage.grey_opening(ink, size=(size, size))
    else:
        # A crop a few strokes wide has one paper tone; an opening there would eat into the strokes.
        ink = ink - np.percentile(ink, 50)
    np.clip(ink, 0.0, None, out=ink)
    peak = float(ink.max())
    if peak < _MIN_CONTRAST:
        raise NoDigitFoundError(
            f"no digit found: the image is blank or too faint (ink contrast {peak:.2f}, "
            f"at least {_MIN_CONTRAST} is needed). Draw or upload a digit with visible strokes."
        )
    # Otsu separates ink from paper; the noise floor keeps it from splitting paper grain in two.
    # Where Otsu's two classes stand far apart next to the grain (a digit cut tight from a scan,
    # half of it ink), Otsu alone decides: a floor would cut faint strokes into dots.
    sample = _sample(ink)
    centre = float(np.median(sample))
    spread = _noise_level(sample)
    otsu = float(threshold_otsu(sample))
    above, below = sample[sample > otsu], sample[sample <= otsu]
    separation = (float(above.mean()) - float(below.mean())) / max(spread, 1e-3) if above.size and below.size else 0.0
    floor = 0.0 if separation >= _CLEAR_SEPARATION else centre + 4.0 * spread
    threshold = max(otsu, floor, 0.5 * _MIN_CONTRAST)
    mask = ink > threshold
    mask = _remove_specks(_remove_ruled_rows(mask) if crop_of_one else mask)
    if crop_of_one:
        mask = _remove_neighbours_at_sides(mask)
    if not mask.any():
        raise NoDigitFoundError("no digit found: only specks of noise remain after thresholding.")
    rows, cols = np.nonzero(mask)
    extent = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    if extent < max(2, _MIN_EXTENT_FRACTION * max(grey.shape)):
        raise NoDigitFoundError(
            f"no digit found: the only mark is {extent} px across in a {grey.shape[1]}x{grey.shape[0]} "
            "image. Draw a whole digit."
        )
    # Full strokes become 1; paper grain below the noise floor becomes 0; the soft edges of strokes
    # keep their grey levels (MNIST's anti-aliasing), but only near the thresholded strokes.
    level = float(np.percentile(ink[mask], 90))
    floor = min(centre + 3.0 * spread, 0.5 * level)
    ink = np.clip((ink - floor) / max(level - floor, 1e-6), 0.0, 1.0)
    ink *= ndimage.binary_dilation(mask, iterations=2)
    return ink.astype(np.float32), mask


def _two_tone(sample: np.ndarray, low: float, high: float) -> bool:
    # Every pixel at one of the image's two extremes: a binary scan, enlarged by repeating pixels or
    # not. Its digit may be stretched to fill the box (Semeion: a 1 becomes a block), so that more
    # than half of it is ink and its median tone is the ink's; most of its border is still paper.
    # And it has no shadows: the opening (a third of the image wide) took a stretched 1's block, and
    # the strokes of a 16x16 scan enlarged 16x, for paper. Read by the bundled model as uploads (x8
    # and x16), binary scans of the 4 held-out pen sites' digits stretched to fill 16x16 (19% of them
    # more than half ink): 69.75% -> 90.06% right (border alone: 76.84%); the same with the aspect
    # kept 93.34% -> 96.72%; 1,000 binarised USPS scans 97.50% -> 99.10%. Drawings are anti-aliased,
    # not two-tone: unchanged.
    return high > low and bool(np.all((sample <= low + _TWO_TONE) | (sample >= high - _TWO_TONE)))


def _noise_level(ink: np.ndarray) -> float:
    # The paper's grain, as a standard deviation: the spread of differences between neighbouring
    # pixels (robust MAD, over sqrt(2) for a difference of two). Unlike the spread of the tones
    # themselves, it is not inflated by the ink: inside a stroke and on bare paper neighbours agree,
    # so a crop cut tight around a digit, half of it ink, still gets the noise floor of its paper.
    # (On a large page ``ink`` is :func:`_sample`'s even grid: neighbours a few pixels apart, as grainy.)
    steps = np.concatenate([np.diff(ink, axis=0).ravel(), np.diff(ink, axis=1).ravel()])
    return 1.4826 * float(np.median(np.abs(steps))) / np.sqrt(2.0)


def _remove_ruled_rows(mask: np.ndarray) -> np.ndarray:
    # A printed line that a crop caught along with the digit (a cheque's baseline under it, the line
    # of the row above): a band of at most a few rows near the top or bottom edge, inked across
    # nearly the whole width. A hand-drawn stroke (a 2's base) is never that straight. When removing
    # it would leave nothing, it was the drawing itself and stays.
    rows, cols = mask.shape
    if cols < 8:
        return mask
    ruled = mask.mean(axis=1) >= _RULED_ROW_COVER
    thickest = max(_RULED_MAX_ROWS, int(_RULED_MAX_HEIGHT * rows))
    out = mask.copy()
    start = None
    for row in range(rows + 1):
        if row < rows and ruled[row]:
            start = row if start is None else start
            continue
        if start is not None and row - start <= thickest and (start < _RULED_EDGE * rows or row > (1 - _RULED_EDGE) * rows):
            out[start:row] = False
        start = None
    return out if out.any() else mask


def _remove_neighbours_at_sides(mask: np.ndarray) -> np.ndarray:
    # A digit cut from a number often brings the edge of its neighbour: a mark touching the left or
    # right side, lying wholly in the outer 35% of the width, with under half the digit's ink.
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count <= 1:
        return mask
    areas = np.bincount(labels.ravel())[1:]
    width = mask.shape[1]
    keep = np.ones(count + 1, dtype=bool)
    keep[0] = False  # the paper
    for index, (_, cols) in enumerate(ndimage.find_objects(labels), start=1):
        at_left = cols.start == 0 and cols.stop <= _NEIGHBOUR_STRIP * width
        at_right = cols.stop == width and cols.start >= (1 - _NEIGHBOUR_STRIP) * width
        keep[index] = not ((at_left or at_right) and areas[index - 1] < _NEIGHBOUR_INK * areas.max())
    return keep[labels]


def _sample(image: np.ndarray, limit: int = 250_000) -> np.ndarray:
    # Tone statistics of a large page from an even grid of its pixels: the same answer, much sooner.
    step = int(np.ceil(np.sqrt(image.size / limit))) if image.size > limit else 1
    return image[::step, ::step]


def _remove_specks(mask: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count <= 1:
        return mask
    areas = np.bincount(labels.ravel())[1:]
    keep = np.zeros(count + 1, dtype=bool)
    keep[1:] = areas >= max(2, _SPECK_FRACTION * areas.max())
    return keep[labels]


def frame_from_ink(ink: np.ndarray, mask: np.ndarray | None = None, *, redraw: bool | None = None) -> np.ndarray:
    """Crop the ink, normalise its stroke width, fit it in the 20x20 box and centre it by mass.

    Parameters
    ----------
    ink : ndarray of shape (H, W), float, values in [0, 1]
        Bright ink on a zero background (as :func:`extract_ink` returns).
    mask : ndarray of shape (H, W), bool, optional
        The strokes; default ``ink > 0.5``.
    redraw : bool, optional
        Bring the strokes to MNIST's width: always (True), never (False), or when their width is out
        of range (None, the default).

    Returns
    -------
    ndarray of shape (28, 28), float32, values in [0, 1], maximum 1

    Raises
    ------
    NoDigitFoundError
        The mask is empty.

    Notes
    -----
    Strokes thinner than 1.5 px once scaled into the box (a fine pen on a large scan) are thickened
    to MNIST's median width of 2.8 px by moving their edges (distance transforms, so loops stay
    open). Thicker strokes, a fat brush on a small canvas among them, are left as they are by
    default: thinning them read worse on real drawings. ``redraw=True`` brings any width to 2.8 px;
    when thinning, a pen line of that width along the skeleton keeps thinner strokes.
    """
    ink = np.asarray(ink, dtype=np.float32)
    mask = ink > 0.5 if mask is None else np.asarray(mask, dtype=bool)
    if not mask.any():
        raise NoDigitFoundError("no digit found: the ink mask is empty.")
    ink, mask = _crop(ink, mask)
    scale = BOX_SIZE / max(mask.shape)
    frame_width = _stroke_width_in_frame(ink)
    out_of_range = not _STROKE_WIDTH_RANGE[0] <= frame_width <= _STROKE_WIDTH_RANGE[1]
    if redraw or (redraw is None and out_of_range):
        # Widths in source pixels, from the one robust measurement (a stroke too thin to survive
        # at 60 px counts as half a frame pixel).
        width = max(frame_width, 0.5) / scale
        target = MNIST_STROKE_WIDTH / scale
        ink = _restroke(mask, change=(target - width) / 2.0, pen_width=target)
        ink, mask = _crop(ink, ink > 0.5)
        scale = BOX_SIZE / max(mask.shape)
    height, width_px = ink.shape
    boxed = resize(ink, (max(1, round(height * scale)), max(1, round(width_px * scale))))
    frame = _centre_by_mass(boxed)
    peak = frame.max()
    if peak <= 0:
        raise NoDigitFoundError("no digit found: the strokes vanished when scaled into the 20x20 box.")
    return np.clip(frame / peak, 0.0, 1.0).astype(np.float32)


def estimate_stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary drawing, in pixels: area divided by skeleton length.

    Parameters
    ----------
    mask : ndarray of shape (H, W), bool

    Returns
    -------
    float
        0 for an empty mask.
    """
    mask = np.asarray(mask, dtype=bool)
    area = int(mask.sum())
    if area == 0:
        return 0.0
    length = int(skeletonize(mask).sum())
    return area / max(length, 1)


def _stroke_width_in_frame(ink: np.ndarray) -> float:
    # Measured at three times the box size: large scans have jagged edges whose skeleton grows
    # spurs (and so looks thin), which averaging away at this scale removes. Strokes that vanish here
    # are thin indeed.
    factor = _WIDTH_SIDE / max(ink.shape)
    small = resize(ink, (max(1, round(ink.shape[0] * factor)), max(1, round(ink.shape[1] * factor))))
    return estimate_stroke_width(small > 0.5) * BOX_SIZE / _WIDTH_SIDE


def _crop(ink: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return ink[window], mask[window]


def _restroke(mask: np.ndarray, *, change: float, pen_width: float) -> np.ndarray:
    # Move every stroke edge outwards (change > 0) or inwards (change < 0) by `change` pixels,
    # with a one-pixel soft edge like a pen's. Distance transforms keep holes as holes, so a loop
    # stays a loop. When thinning, a pen of the target width along the skeleton keeps the strokes
    # that are thinner than the rest from vanishing.
    pad = int(np.ceil(max(change, 0))) + 2
    padded = np.pad(mask, pad)
    inside = ndimage.distance_transform_edt(padded)
    outside = ndimage.distance_transform_edt(~padded)
    signed = np.where(padded, inside - 0.5, 0.5 - outside)  # > 0 inside the stroke
    restroked = np.clip(signed + change + 0.5, 0.0, 1.0)
    if change < 0:
        along_skeleton = ndimage.distance_transform_edt(~skeletonize(padded))
        pen = np.clip(pen_width / 2.0 + 0.5 - along_skeleton, 0.0, 1.0)
        restroked = np.maximum(restroked, pen)
    return restroked.astype(np.float32)


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a float image with anti-aliasing (Lanczos), keeping float32 precision.

    Parameters
    ----------
    image : ndarray of shape (H, W), float
    shape : (rows, cols)

    Returns
    -------
    ndarray of shape ``shape``, float32
    """
    rows, cols = shape
    if image.shape == (rows, cols):
        return np.array(image, dtype=np.float32)
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F")
    return np.asarray(pil.resize((cols, rows), Image.Resampling.LANCZOS), dtype=np.float32)


def _centre_by_mass(patch: np.ndarray) -> np.ndarray:
    patch = np.clip(patch, 0.0, None)
    total = patch.sum()
    rows, cols = patch.shape
    if total <= 0:
        com_row, com_col = (rows - 1) / 2, (cols - 1) / 2
    else:
        com_row = float((patch.sum(axis=1) * np.arange(rows)).sum() / total)
        com_col = float((patch.sum(axis=0) * np.arange(cols)).sum() / total)
    top = int(round(FRAME_SIZE // 2 - com_row))
    left = int(round(FRAME_SIZE // 2 - com_col))
    frame = np.zeros((FRAME_SIZE, FRAME_SIZE), dtype=np.float32)
    src_r0, src_c0 = max(0, -top), max(0, -left)
    dst_r0, dst_c0 = max(0, top), max(0, left)
    height = min(rows - src_r0, FRAME_SIZE - dst_r0)
    width = min(cols - src_c0, FRAME_SIZE - dst_c0)
    if height > 0 and width > 0:
        frame[dst_r0 : dst_r0 + height, dst_c0 : dst_c0 + width] = patch[
            src_r0 : src_r0 + height, src_c0 : src_c0 + width
        ]
    return frame


def deskew(frames: np.ndarray) -> np.ndarray:
    """Straighten slanted digits: shear each image so that its second moment mu11 becomes 0.

    Each image is sheared horizontally about its centre-of-mass row by ``mu11 / mu02`` (bilinear
    interpolation), the method of LeCun et al.'s "deskewing" for MNIST. Images with no ink, or with
    a vertical variance below 0.01, are returned unchanged.

    Parameters
    ----------
    frames : ndarray of shape (n_images, rows, cols), float

    Returns
    -------
    ndarray of shape (n_images, rows, cols), float32
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 3:
        raise InvalidImageError(f"deskew expects a batch of shape (n_images, rows, cols); got {frames.shape}.")
    out = np.empty_like(frames)
    # Chunks keep the per-pixel index and weight arrays small for large training sets.
    for start in range(0, len(frames), _DESKEW_CHUNK):
        out[start : start + _DESKEW_CHUNK] = _deskew_chunk(frames[start : start + _DESKEW_CHUNK])
    return out


_DESKEW_CHUNK = 4096


def _deskew_chunk(frames: np.ndarray) -> np.ndarray:
    # A horizontal shear moves each row by its own amount: a gather with linear weights per row.
    n_images, rows, cols = frames.shape
    y = np.arange(rows, dtype=np.float64)[None, :, None]
    x = np.arange(cols, dtype=np.float64)[None, None, :]
    total = frames.sum(axis=(1, 2), dtype=np.float64)
    safe_total = np.where(total > 0, total, 1.0)
    cy = (frames * y).sum(axis=(1, 2)) / safe_total
    cx = (frames * x).sum(axis=(1, 2)) / safe_total
    dy = y - cy[:, None, None]
    dx = x - cx[:, None, None]
    mu11 = (dx * dy * frames).sum(axis=(1, 2))
    mu02 = (dy * dy * frames).sum(axis=(1, 2))
    skew = np.where((total > 0) & (np.abs(mu02) >= 1e-2), mu11 / np.where(mu02 == 0, 1.0, mu02), 0.0)
    # Output pixel (r, c) samples the input at column c + skew * (r - cy).
    row_shift = skew[:, None] * (np.arange(rows)[None, :] - cy[:, None])  # (n, rows)
    whole = np.floor(row_shift)
    fraction = (row_shift - whole)[:, :, None].astype(np.float32)
    left = np.arange(cols)[None, None, :] + whole.astype(np.intp)[:, :, None]  # (n, rows, cols)
    padded = np.pad(frames, ((0, 0), (0, 0), (1, 1)))  # zero columns either side
    left_index = np.clip(left + 1, 0, cols + 1)
    right_index = np.clip(left + 2, 0, cols + 1)
    left_value = np.take_along_axis(padded, left_index, axis=2) * ((left >= -1) & (left <= cols - 1))
    right_value = np.take_along_axis(padded, right_index, axis=2) * ((left >= -2) & (left <= cols - 2))
    return ((1 - fraction) * left_value + fraction * right_value).astype(np.float32)
