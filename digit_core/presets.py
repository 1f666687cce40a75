"""How an image is read, by kind: one named preset per regime, every reading parameter in one place.

:func:`digit_core.reading.read_digits` picks a preset from the image (:func:`choose_preset`) and
passes it down; nothing else in the reading decides by the kind of image.

- :data:`DRAWING`: strokes on plain paper, as the app's canvas sends (and a pen tablet's, a clean
  screenshot). The "not a digit" part judges it: it learnt from drawings.
- :data:`SCAN`: a low-resolution image enlarged by repeating pixels (a 16x16 postal scan uploaded
  at 256x256): binary like a drawing, but not one. Never refused: the "not a digit" part's
  threshold was set on drawings, and it refused 11.6% of such scans.
- :data:`DOCUMENT`: a photo or scan of paper (cheques, forms, envelopes): grey paper, noise, ruled
  lines. Never refused: the "not a digit" part was never shown paper.

Measurements quoted are on the development half of the cheque amounts (``real_data.held_out``), on
numbers of held-out writers' pen digits, and on letters and scribbles drawn on the canvas, as
``scripts/evaluate.py --real`` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ReadingPreset", "DRAWING", "SCAN", "DOCUMENT", "choose_preset", "is_drawing", "is_enlarged"]


@dataclass(frozen=True)
class ReadingPreset:
    """The parameters of reading one kind of image.

    Attributes
    ----------
    name : str
    judged : bool
        Whether a mark may be refused as "not a digit" (its digit likeness below ``refuse_likeness``).
    touching_width : float
        A mark at least this many times as wide as the line's digits are tall may be two touching
        digits and is tried as two.
    half_likeness : float or None
        A cut is kept only where both halves have at least this digit likeness (None: any).
    refuse_likeness : float
        A judged mark with a digit likeness under this is refused as "not a digit" (the model's own
        line is 0).
    doubt_likeness : float
        A judged mark read as a digit with a likeness under this carries a note that it may not be
        one (:attr:`digit_core.reading.ReadDigit.maybe_not_a_digit`).
    sure_of_one : float
        A mark read as one digit at least this surely (:func:`digit_core.reading._sureness`) is not cut...
    surely_touching_width : float
        ...unless it is at least this many line heights wide, which single digits hardly ever are.
    crop_margin : float
        A digit of a number is framed from its crop with this margin (a fraction of its longer side).
    cut_margin : float
        Cuts are tried at the thinnest columns of the middle of a mark, this far (a fraction of its
        width) from either side.
    alone_sure_of_one : float or None
        A page's only mark read as one digit at least this surely (:func:`digit_core.reading._sureness`)
        is not cut for its width alone (the line's height is then its own)... None: cut as any other.
    alone_cut_margin : float
        ...but only where its halves are together at least this much surer digits than the whole.
    dash_height, dash_aspect : float
        A mark lower than ``dash_height`` line heights and at least ``dash_aspect`` times as wide as
        it is high is a dash, an underline or a piece of a rule, not a digit.
    below_line : float
        A mark whose top lies at least this many line heights below the line's top (the median of
        its marks' tops) hangs under the digits: a comma, the tail of ",-", an underline.
    trailing_height, trailing_ink : float
        The line's last mark, lower than ``trailing_height`` line heights and with less than
        ``trailing_ink`` of the median mark's ink, is a tick, "=" or ":" after the digits.
    """

    name: str
    judged: bool
    touching_width: float
    half_likeness: float | None = None
    refuse_likeness: float = 0.0
    doubt_likeness: float = 0.0
    #: Two touching 0s cut right read about 0.95 sure as a pair, a 0 cut in two rarely above 0.5.
    sure_of_one: float = 0.9
    #: Cheque digits' 95th percentile of width / height is 1.4; cutting from 1.5 finds 83.1% of the
    #: dev-half digit boxes (77.9% without), from 1.35 it adds 28 digits that are not there.
    surely_touching_width: float = 1.5
    #: The margin MNIST's framing leaves around a digit (20 of 28 px) at the crop's scale.
    crop_margin: float = 0.2
    #: Two digits touch near the middle of their mark: cuts near its sides leave a sliver.
    cut_margin: float = 0.25
    #: Off by default (drawings): set for scans and documents (:data:`_ALONE_SURE_OF_ONE`).
    alone_sure_of_one: float | None = None
    #: "Far surer": two touching USPS scans' halves beat the whole by 0.5 or more, and no single
    #: USPS scan's halves (1,000-2,999) beat it at all.
    alone_cut_margin: float = 0.25
    #: Cheque digits (dev half, 2,142 marks that are digits): 1% are under 0.55 line heights and 99%
    #: narrower than 1.7 times their height; the trailing "-", underlines and rule pieces read as
    #: digits are 0.04-0.43 high and 2.6-23 times as wide. Dev-half amounts exact: 57.00% -> 57.20%
    #: (0.35 high: 57.20%, 0.55: 57.00%).
    dash_height: float = 0.45
    dash_aspect: float = 2.0
    #: Of those digits' tops 1% lie 0.4 line heights or more below the line's top (a small 0 after
    #: a full stop sits on the baseline: its top 0.3-0.5 down); the commas of ",-" and the underlines
    #: read as digits start 0.6-1.3 below it. Dev-half amounts exact: 57.00% -> 57.20% (0.5 or 0.7:
    #: 57.00%).
    below_line: float = 0.6
    #: The last marks of dev-half amounts read right: 2% under 0.6 line heights (small 0s after a
    #: full stop), none of those with under 0.55 of the median mark's ink; the ticks, "=", ":" and
    #: "-" read as a last digit: 0.47-0.57 high, 0.19-0.42 of the ink. Dev-half amounts exact:
    #: 56.39% -> 57.20%, none lost.
    trailing_height: float = 0.6
    trailing_ink: float = 0.45


#: A drawing: cut from 1.2 line heights wide (a letter drawn as one wide mark, a K or a W, is cut
#: into two digit-like halves from 1.0), and only where both halves look like digits by a margin of
#: 0.75 (letters / scribbles refused as the app reads them: 82.0% / 78.7% with both rules, 63.9% /
#: 56.3% without; touching pen 0s still read "00" 19 of 20 and overlapping ones 14 of 20).
#: Refused as "not a digit" under a likeness of -0.45, noted as maybe not one under 0.5. The
#: likeness is against the model's own lines, one per digit read, set leave-one-site-out
#: (:func:`digit_core.rejection.class_thresholds`, ``train_not_a_digit.py --refused 0.0075``): at 0,
#: no site of the 11 loses more than 0.75% of its digits' frames (worst 0.70%). Read as the app reads
#: a drawing (both canvas styles, 300 digits and 300 letters (all but O o I l S s z g q G) of each of
#: the 4 sites the model never saw; font letters and scribbles as ``tests/test_rejection.py``):
#:
#: ====================  ==================  =====================  ===============  ==================
#: refused under         digits refused      letters refused/noted  fonts/scribbles  digits right
#:                       (mean, worst)                              refused          (mean, worst)
#: ====================  ==================  =====================  ===============  ==================
#: 0 (the model's line)  0.69%, 1.33%        65.3% / 12.8%          85% / 73%        97.96%, 96.33%
#: -0.3                  0.44%, 0.78%        56.4% / 24.6%          68% / 58%        98.12%, 97.00%
#: **-0.45**             **0.18%, 0.39%**    **51.6% / 29.4%**      **62% / 51%**    **98.39%, 97.33%**
#: -0.6                  0.00%, 0.00%        45.7% / 35.3%          56% / 43%        98.47%, 97.67%
#: before: font letters  0.08%, 0.33%        23.7% / 46.2%          65% / 63%        98.39%, 97.67%
#: ====================  ==================  =====================  ===============  ==================
#:
#: -0.45 is the highest line measured at which no site loses more than 0.5% of its digits, the rule
#: the line before it followed: half the bar of 1%, as strangers' sites lost about twice what ours
#: did. The read path refuses more digits than the frames said (small digits drawn with a fat brush,
#: marks cut in two). A mark between -0.45 and 0.5 is read with the note that it may not be a digit.
DRAWING = ReadingPreset(
    name="drawing", judged=True, touching_width=1.2, half_likeness=0.75, refuse_likeness=-0.45, doubt_likeness=0.5
)

#: A scan or a document whose only mark reads as one digit at least 0.5 sure is one wide digit far
#: more often than two touching ones. USPS scans 1,000-2,999 as uploads: 249 lone marks at least as
#: wide as high, none with halves surer together than the whole. Of the 2,000 scans 23 were read as
#: more than one digit, 14 of them lone marks cut for being 1.5 line heights wide (a flat 2 read
#: "22"); 9 now, all digits broken into pieces. Two touching USPS scans read
#: 0.03-0.16 sure as one, 0.64-0.78 as two. Cheque amounts written in one stroke (300, 260, 8694 on
#: the dev half) read 0.1-0.2 sure as one digit and are cut as before (without the 0.5: 3 lost).
_ALONE_SURE_OF_ONE = 0.5

#: A scan enlarged from a few pixels: cut as a drawing (its digits fill their box, as drawn ones
#: do), never refused.
SCAN = ReadingPreset(name="scan", judged=False, touching_width=1.2, half_likeness=0.75, alone_sure_of_one=_ALONE_SURE_OF_ONE)

#: A document: cut from 1.0 line heights wide (two touching 0s are often no wider: dev-half cheque
#: amounts read exactly 55.2% at 1.0, 52.9% at 1.2, 53.8% at 0.8).
DOCUMENT = ReadingPreset(name="document", judged=False, touching_width=1.0, alone_sure_of_one=_ALONE_SURE_OF_ONE)

#: An image with fewer pixels than this between ink and paper (grey below 0.85 and above 0.15) is a
#: drawing: canvas drawings have under 1%, scans and photos of paper most of theirs.
_DRAWING_MIDTONES = 0.05


def is_drawing(grey: np.ndarray) -> bool:
    """Whether an image is strokes on plain paper, as the canvas sends: hardly any grey between ink
    and paper.

    Parameters
    ----------
    grey : ndarray of shape (H, W), float in [0, 1]
    """
    grey = np.asarray(grey, dtype=np.float32)
    return float(np.mean((grey > 0.15) & (grey < 0.85))) < _DRAWING_MIDTONES


#: An image at most this many pixels on its longer side is a low-resolution scan (MNIST is 28, USPS
#: 16; the app's canvas 400).
_LOW_RESOLUTION = 64


def is_enlarged(grey: np.ndarray) -> bool:
    """Whether an image is a low-resolution one enlarged by repeating pixels: neighbouring rows, and
    neighbouring columns, are equal in runs of at least two wherever they change (a drawing's
    anti-aliased edges change from one row to the next), or it is tiny to begin with.

    Parameters
    ----------
    grey : ndarray of shape (H, W), float in [0, 1]
    """
    grey = np.asarray(grey)
    if max(grey.shape) <= _LOW_RESOLUTION:
        return True
    return all(_shortest_run(np.any(np.diff(grey, axis=axis) != 0, axis=1 - axis)) >= 2 for axis in (0, 1))


def _shortest_run(changes: np.ndarray) -> int:
    # changes[i]: line i + 1 differs from line i. Runs of equal lines between two changes, shortest
    # (a flat bar changes twice, or once at the border: no run to measure).
    where = np.flatnonzero(changes)
    return int(np.diff(where).min()) if len(where) >= 2 else len(changes)


def choose_preset(grey: np.ndarray) -> ReadingPreset:
    """The preset to read an image with: :data:`SCAN` for a low-resolution image enlarged, else
    :data:`DRAWING` for strokes on plain paper, else :data:`DOCUMENT`.

    Parameters
    ----------
    grey : ndarray of shape (H, W), float in [0, 1]
        The whole image, as :func:`digit_core.images.to_grayscale` gives it.
    """
    if not is_drawing(grey):
        return DOCUMENT
    return SCAN if is_enlarged(grey) else DRAWING
