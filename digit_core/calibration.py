"""Probabilities that mean what they say: temperature scaling on a held-out split, and ECE.

The SVC is trained once, on the training set minus a held-out calibration split; a single
temperature is then fitted on that split (``CalibratedClassifierCV(FrozenEstimator(...),
method="temperature")``), so calibration costs one extra prediction pass instead of the five SVC
fits that ``SVC(probability=True)`` needs.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

__all__ = ["calibration_split", "calibrate", "expected_calibration_error"]


def calibration_split(
    n_samples: int, labels: np.ndarray, *, size: int, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training rows and of a stratified held-out calibration split.

    Parameters
    ----------
    n_samples : int
    labels : ndarray of shape (n_samples,)
    size : int
        Rows held out for calibration (at most a fifth of the data, at least one per class).

    Returns
    -------
    fit_index, calibration_index : ndarray of int
    """
    size = int(min(size, n_samples // 5))
    index = np.arange(n_samples)
    if size < 10:
        raise ValueError(f"{n_samples} samples are too few to hold out a calibration split; need at least 50.")
    fit_index, calibration_index = train_test_split(
        index, test_size=size, stratify=labels, random_state=random_state
    )
    return np.sort(fit_index), np.sort(calibration_index)


def calibrate(fitted_classifier, X_calibration: np.ndarray, y_calibration: np.ndarray) -> CalibratedClassifierCV:
    """Wrap a fitted classifier with a temperature fitted on held-out data.

    Parameters
    ----------
    fitted_classifier : fitted classifier with ``decision_function``
    X_calibration : ndarray of shape (n_samples, n_features)
    y_calibration : ndarray of shape (n_samples,)

    Returns
    -------
    CalibratedClassifierCV
        Its ``predict_proba`` gives calibrated probabilities for all classes.
    """
    calibrated = CalibratedClassifierCV(FrozenEstimator(fitted_classifier), method="temperature")
    return calibrated.fit(X_calibration, y_calibration)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, *, n_bins: int = 15) -> float:
    """Expected calibration error of the top-1 prediction (Guo et al. 2017), equal-width bins.

    Parameters
    ----------
    probabilities : ndarray of shape (n_samples, n_classes)
        Rows sum to 1; column ``k`` is class ``k``.
    labels : ndarray of shape (n_samples,)
        True class indices.
    n_bins : int, default=15

    Returns
    -------
    float in [0, 1]
        The bin-size-weighted mean of |accuracy - confidence|.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise ValueError(
            f"probabilities must be (n_samples, n_classes) and labels (n_samples,); "
            f"got {probabilities.shape} and {labels.shape}."
        )
    if len(labels) == 0:
        raise ValueError("expected_calibration_error needs at least one sample.")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    error = 0.0
    for b in range(n_bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)
