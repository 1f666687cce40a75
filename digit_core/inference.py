"""Running a model on frames: calibrated probabilities for a batch of MNIST frames."""

from __future__ import annotations

import numpy as np

from .framing import FRAME_SIZE

__all__ = ["predict_proba"]


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
