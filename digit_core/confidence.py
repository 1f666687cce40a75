"""How sure a whole reading is: a small calibration map from features of the reading to P(all right).

The product of the digits' probabilities is not what a reading of several digits deserves: the
classifier names each digit surely whatever it is shown (a cheque's trailing ",-" read as a 0 at
0.99), and it cannot see what segmentation did (a dash kept as a digit, two digits left touching).
A logistic map over a few features of the reading (:func:`reading_features`) is fitted to whether
whole cheque amounts were read right (:func:`fit_confidence_map`), across folds by document so that
its figures are measured on cheques it was not fitted on (``scripts/evaluate.py --cross-site``). Its
weights are kept non-negative on features oriented "higher is surer", so the map is monotone in each
(a surer digit never lowers the whole reading's confidence). :data:`CONFIDENCE_MAP` holds the
shipped numbers; :func:`reading_confidence` is what ``Reading.confidence`` reports.

A reading of one digit keeps its digit's calibrated probability (temperature-scaled, see
:mod:`digit_core.calibration`): the map is fitted on numbers and only applied to them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

__all__ = [
    "FEATURE_NAMES",
    "CONFIDENCE_MAP",
    "reading_features",
    "apply_confidence_map",
    "fit_confidence_map",
    "fit_on_readings",
    "cross_fitted_confidence",
    "reading_confidence",
    "sure_readings",
]

#: The features of a reading, each oriented so that higher means surer:
#: - ``log_product``: log of the product of the digits' top probabilities (<= 0);
#: - ``log_min_margin``: log of the smallest gap between a digit's top two probabilities (<= 0);
#: - ``min_height``: the shortest mark's height over the line's median height (a dash or a comma
#:   kept as a digit is short);
#: - ``neg_max_aspect``: minus the widest mark's width over its height (two digits left touching are wide);
#: - ``neg_offset``: minus the largest distance of a mark's centre from the line's, in median heights
#:   (a tick or an underline sits off the line);
#: - ``neg_digits``: minus the number of digits (every digit is one more chance to be wrong);
#: - ``min_area``: the smallest mark's box area over the median box area (a speck or a stray stroke);
#: - ``min_gap``: the narrowest gap between neighbouring marks, in median heights, within [-1, 1]
#:   (a cut through one digit leaves halves that touch or overlap);
#: - ``neg_height_spread``: minus the spread (standard deviation) of the marks' heights, in median heights.
#: On 360 cheque amounts (5 folds by document), the six first gave an expected calibration error of
#: 0.092 cross-fitted and never reached 0.83; with the last three, 0.041, up to 0.91.
FEATURE_NAMES = ("log_product", "log_min_margin", "min_height", "neg_max_aspect", "neg_offset", "neg_digits",
                 "min_area", "min_gap", "neg_height_spread")
#: The shipped map: ``(intercept, weights per FEATURE_NAMES)`` on the raw features, fitted on 360
#: ORAND-CAR-A training cheque amounts (a seeded random third of them) read by the bundled starter
#: (docs/measurements.md). ``neg_digits`` came out 0: amounts of 4-5 digits are read right most often.
CONFIDENCE_MAP = (-0.2022, (1.2424, 0.3657, 0.5385, 0.07668, 4.1553, 0.0, 1.5967, 2.4312, 0.9380))
#: Probabilities are clipped to this before logs.
_FLOOR = 1e-9
#: L2 penalty of the fit, per weight (keeps the few weights stable on ~1,000 amounts).
_PENALTY = 1e-2


def reading_features(digits: Sequence) -> np.ndarray:
    """Features of a reading, shape (len(FEATURE_NAMES),), float64 (zeros for no digits).

    Parameters
    ----------
    digits : sequence of ReadDigit
        Anything with ``probabilities`` (shape (10,)) and ``box`` ``(left, top, right, bottom)``.
    """
    if not digits:
        return np.zeros(len(FEATURE_NAMES))
    probabilities = np.clip(np.stack([np.asarray(d.probabilities, dtype=float) for d in digits]), _FLOOR, 1.0)
    ordered = np.sort(probabilities, axis=1)
    boxes = np.array([d.box for d in digits], dtype=float)
    widths = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    line = float(np.median(heights))
    centres = (boxes[:, 1] + boxes[:, 3]) / 2
    gaps = boxes[1:, 0] - boxes[:-1, 2] if len(digits) > 1 else np.zeros(1)
    areas = widths * heights
    return np.array([
        float(np.log(ordered[:, -1]).sum()),
        float(np.log(np.clip(ordered[:, -1] - ordered[:, -2], _FLOOR, 1.0)).min()),
        float(heights.min() / line),
        -float((widths / heights).max()),
        -float(np.abs(centres - np.median(centres)).max() / line),
        -float(len(digits)),
        float(areas.min() / np.median(areas)),
        float(np.clip(gaps.min() / line, -1.0, 1.0)),
        -float(heights.std() / line),
    ])


def apply_confidence_map(features: np.ndarray, confidence_map=CONFIDENCE_MAP) -> np.ndarray:
    """P(the whole reading is right) for features of shape (n, n_features) or (n_features,), in [0, 1]."""
    intercept, weights = confidence_map
    z = intercept + np.asarray(features, dtype=float) @ np.asarray(weights, dtype=float)
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


def fit_confidence_map(features: np.ndarray, correct: np.ndarray) -> tuple[float, tuple[float, ...]]:
    """Fit the map to readings: logistic regression with non-negative weights (monotone map).

    Parameters
    ----------
    features : ndarray of shape (n, len(FEATURE_NAMES))
    correct : ndarray of shape (n,), bool
        Whether each reading was right.

    Returns
    -------
    (intercept, weights)
        In the layout of :data:`CONFIDENCE_MAP`.
    """
    features = np.asarray(features, dtype=float)
    y = np.asarray(correct, dtype=float)
    scale = np.maximum(features.std(axis=0), 1e-6)
    x = features / scale

    def loss(theta):
        z = theta[0] + x @ theta[1:]
        p = 1.0 / (1.0 + np.exp(-z))
        nll = np.logaddexp(0.0, z) - y * z
        gradient = np.r_[np.sum(p - y), x.T @ (p - y)] / len(y) + np.r_[0.0, 2 * _PENALTY * theta[1:]]
        return nll.mean() + _PENALTY * np.sum(theta[1:] ** 2), gradient

    start = np.zeros(features.shape[1] + 1)
    bounds = [(None, None)] + [(0.0, None)] * features.shape[1]
    theta = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x
    return float(theta[0]), tuple(float(w) for w in theta[1:] / scale)


def fit_on_readings(readings: Sequence[Sequence], correct: np.ndarray) -> tuple[float, tuple[float, ...]]:
    """:func:`fit_confidence_map` on readings (each a sequence of ReadDigit) and whether each was
    right; only readings of two digits or more take part, as only they are given the map."""
    several = np.array([len(digits) >= 2 for digits in readings], dtype=bool)
    if len(set(np.asarray(correct, dtype=bool)[several].tolist())) < 2:
        return CONFIDENCE_MAP  # nothing to learn from: no readings, or all right, or all wrong
    features = np.stack([reading_features(digits) for digits, keep in zip(readings, several) if keep])
    return fit_confidence_map(features, np.asarray(correct, dtype=bool)[several])


def cross_fitted_confidence(readings: Sequence[Sequence], correct: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each reading's :func:`reading_confidence` under a map fitted on the other folds only, shape (n,).

    Parameters
    ----------
    readings : sequence of sequences of ReadDigit
    correct : ndarray of shape (n,), bool
    folds : ndarray of shape (n,), int
        The fold of each reading (folds by document: a document's readings share one).
    """
    correct, folds = np.asarray(correct, dtype=bool), np.asarray(folds)
    out = np.zeros(len(readings))
    for fold in np.unique(folds):
        rest = np.flatnonzero(folds != fold)
        fitted = fit_on_readings([readings[i] for i in rest], correct[rest])
        for i in np.flatnonzero(folds == fold):
            out[i] = reading_confidence(readings[i], fitted)
    return out


def reading_confidence(digits: Sequence, confidence_map=CONFIDENCE_MAP) -> float:
    """The confidence a reading reports: one digit's calibrated probability; for several digits the
    calibration map, never above the least sure digit's probability; 0 for no digits."""
    if not digits:
        return 0.0
    least = min(float(np.max(d.probabilities)) for d in digits)
    if len(digits) == 1:
        return least
    return float(min(least, apply_confidence_map(reading_features(digits), confidence_map)))


def sure_readings(confidences: np.ndarray, correct: np.ndarray, n_total: int, *, at_least: float = 0.9) -> tuple[float, float]:
    """``(share, accuracy)``: the fraction of all ``n_total`` readings (those that gave no digits
    included) reported at least ``at_least`` sure, and the fraction of those that are right (1.0
    when none is)."""
    sure = np.asarray(confidences) >= at_least
    share = float(sure.sum()) / max(n_total, 1)
    return share, float(np.asarray(correct, dtype=bool)[sure].mean()) if sure.any() else 1.0
