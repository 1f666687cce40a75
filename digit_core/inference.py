"""Running a model on frames: calibrated probabilities (and digit likeness) for a batch of MNIST frames."""

from __future__ import annotations

import numpy as np

from .framing import FRAME_SIZE

__all__ = ["predict_proba", "read_frames"]


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
    return _ten_columns(np.concatenate(parts) if parts else np.zeros((0, 10)), model.classes_)


def _ten_columns(probabilities: np.ndarray, classes) -> np.ndarray:
    # A model trained without some digit has fewer columns: they are put where the digits are.
    classes = np.asarray(classes).astype(int)
    if len(classes) != 10 or (classes != np.arange(10)).any():
        full = np.zeros((len(probabilities), 10))
        full[:, classes] = probabilities
        probabilities = full
    return probabilities


def read_frames(model, frames: np.ndarray, *, per_class: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Probabilities and digit likeness of a batch of frames, from one pass of the model's features.

    Parameters
    ----------
    model : DigitModel
    frames : ndarray of shape (n, 28, 28) or (n, 784), float in [0, 1]
    per_class : bool, default=True
        The likeness against the line of the digit each frame is read as (to refuse), or against
        one line for all (to compare marks; :meth:`digit_core.digit_model.DigitModel.read`).

    Returns
    -------
    probabilities : ndarray of shape (n, 10), float64; column ``k`` is digit ``k``
    likeness : ndarray of shape (n,), float, or None
        :meth:`digit_core.digit_model.DigitModel.digit_likeness`: below 0, not a digit; None when
        the model has no "not a digit" part.
    """
    rows = np.asarray(frames, dtype=np.float32).reshape(len(frames), FRAME_SIZE * FRAME_SIZE)
    probabilities, likeness = model.read(rows, per_class=per_class)
    return _ten_columns(probabilities, model.classes_), likeness
