"""Reading every digit in an image: the one function behind predict.py, /read and the Upload tab."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .errors import NoDigitFoundError
from .framing import extract_ink, frame_from_ink, resize, to_mnist_frame
from .images import to_grayscale
from .inference import Prediction, predict_proba
from .scan import find_digits

__all__ = ["ReadDigit", "Reading", "read_digits", "PAGE_WORKING_SIDE"]

#: Pages are read at most this many pixels on their longer side (a 12 MP photo is reduced ~2.5x).
PAGE_WORKING_SIDE = 1600


@dataclass(frozen=True)
class ReadDigit:
    """One digit of a reading.

    Attributes
    ----------
    prediction : Prediction
        Frame and calibrated probabilities.
    box : (left, top, right, bottom)
        In the original image's pixel coordinates, right and bottom exclusive.
    """

    prediction: Prediction
    box: tuple[int, int, int, int]

    @property
    def digit(self) -> int:
        return self.prediction.digit

    @property
    def confidence(self) -> float:
        return self.prediction.confidence


@dataclass(frozen=True)
class Reading:
    """All digits read from one image, left to right."""

    digits: tuple[ReadDigit, ...]

    @property
    def text(self) -> str:
        """The digit string, e.g. ``"90210"``."""
        return "".join(str(d.digit) for d in self.digits)

    @property
    def confidence(self) -> float:
        """Probability that the whole string is right: the product of the digits' confidences."""
        return float(np.prod([d.confidence for d in self.digits])) if self.digits else 0.0


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
    grey = to_grayscale(image)
    height, width = grey.shape
    if single:
        frame = to_mnist_frame(grey)
        prediction = Prediction(frame=frame, probabilities=predict_proba(model, frame[None])[0])
        return Reading((ReadDigit(prediction, (0, 0, width, height)),))
    scale = min(1.0, working_side / max(height, width))
    if scale < 1.0:
        grey = resize(grey, (max(1, round(height * scale)), max(1, round(width * scale))))
    ink, mask = extract_ink(grey)
    regions = find_digits(mask)
    if not regions:
        raise NoDigitFoundError("no digit found: only lines, borders or specks were left after clean-up.")
    frames, boxes = [], []
    for region in regions:
        left, top, right, bottom = region.box
        # Keep the anti-aliased edge of this digit's strokes (2 px around them), not its neighbours'.
        own = np.pad(region.mask, 2)
        near = ndimage.binary_dilation(own, iterations=2)[2:-2, 2:-2]
        frames.append(frame_from_ink(ink[top:bottom, left:right] * near, region.mask))
        boxes.append(
            (
                int(np.floor(left / scale)),
                int(np.floor(top / scale)),
                int(min(width, np.ceil(right / scale))),
                int(min(height, np.ceil(bottom / scale))),
            )
        )
    probabilities = predict_proba(model, np.stack(frames))
    return Reading(
        tuple(
            ReadDigit(Prediction(frame=frame, probabilities=p), box)
            for frame, p, box in zip(frames, probabilities, boxes)
        )
    )
