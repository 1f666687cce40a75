"""Running a model on frames and images: probabilities, top-k, and the frame the model saw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .framing import FRAME_SIZE, to_mnist_frame

__all__ = ["Prediction", "predict_proba", "classify_frame", "classify_image"]


@dataclass(frozen=True)
class Prediction:
    """The model's reading of one digit.

    Attributes
    ----------
    frame : ndarray of shape (28, 28), float32 in [0, 1]
        What the model saw.
    probabilities : ndarray of shape (10,)
        Calibrated probability of each digit 0-9; sums to 1.
    """

    frame: np.ndarray
    probabilities: np.ndarray

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


def predict_proba(model, frames: np.ndarray, *, batch_size: int = 2000) -> np.ndarray:
    """Calibrated probabilities for a batch of frames.

    Parameters
    ----------
    model : estimator with ``predict_proba`` over ``(n, 784)`` rows
    frames : ndarray of shape (n, 28, 28) or (n, 784), float in [0, 1]

    Returns
    -------
    ndarray of shape (n, 10), float64; column ``k`` is digit ``k``
    """
    frames = np.asarray(frames, dtype=np.float32)
    rows = frames.reshape(len(frames), FRAME_SIZE * FRAME_SIZE)
    parts = [model.predict_proba(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]
    probabilities = np.concatenate(parts) if parts else np.zeros((0, 10))
    classes = np.asarray(model.classes_).astype(int)
    if len(classes) != 10 or (classes != np.arange(10)).any():
        full = np.zeros((len(probabilities), 10))
        full[:, classes] = probabilities
        probabilities = full
    return probabilities


def classify_frame(model, frame: np.ndarray) -> Prediction:
    """The model's reading of one MNIST frame ``(28, 28)``."""
    frame = np.asarray(frame, dtype=np.float32).reshape(FRAME_SIZE, FRAME_SIZE)
    return Prediction(frame=frame, probabilities=predict_proba(model, frame[None])[0])


def classify_image(model, image) -> Prediction:
    """Frame one digit from any image (:func:`digit_core.framing.to_mnist_frame`) and classify it.

    Raises
    ------
    NoDigitFoundError, InvalidImageError
        As :func:`digit_core.framing.to_mnist_frame`.
    """
    return classify_frame(model, to_mnist_frame(image))
