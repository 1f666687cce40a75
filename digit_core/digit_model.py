"""The digit model: one estimator that names the digit in a frame and says how much it looks like one.

A :class:`DigitModel` holds three fitted parts over flattened MNIST frames ``(n, 784)``:

- ``features_``: the shared front (deskew, then gradient-direction features), computed once per frame;
- ``classifier_``: the calibrated digit classifier over those features (``predict_proba``);
- ``not_a_digit_`` and ``threshold_``: a digit-or-not classifier over the same features and the
  decision value below which a frame is "not a digit" (:mod:`digit_core.rejection`); ``None`` when
  the model has none, and then it refuses nothing.

It saves and loads as one skops file (:mod:`digit_core.persistence`). A model file of the earlier
layout (a calibrated pipeline with the rejector stuck on as attributes) is converted on load by
:meth:`DigitModel.from_calibrated_pipeline`, with the very same fitted parts.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .calibration import calibrate, calibration_split
from .features import Deskew, GradientDirectionFeatures

__all__ = ["DigitModel", "make_features", "split_pipeline"]

#: The number of steps of a digit pipeline (``make_pipeline``'s) that make the shared features.
_FRONT_STEPS = 2
#: Where a file of the earlier layout kept its rejector: attributes of the calibrated classifier.
_OLD_REJECTOR_ATTRIBUTES = ("not_a_digit_", "not_a_digit_threshold_")


def make_features() -> Pipeline:
    """The shared front, unfitted: frames ``(n, 784)`` -> deskewed gradient-direction features ``(n, 392)``."""
    return Pipeline([("deskew", Deskew()), ("features", GradientDirectionFeatures())])


def split_pipeline(pipeline: Pipeline) -> tuple[Pipeline, Pipeline]:
    """A fitted digit pipeline (``deskew, features, reduce, svc``) as its shared front and its head.

    The two share the pipeline's fitted steps (nothing is copied or refitted): ``head`` over
    ``front.transform(X)`` decides exactly as ``pipeline`` over ``X``.
    """
    return pipeline[:_FRONT_STEPS], pipeline[_FRONT_STEPS:]


class DigitModel(ClassifierMixin, BaseEstimator):
    """Digits 0-9 from flattened MNIST frames, with a "not a digit" score.

    Parameters
    ----------
    classifier : estimator, optional
        Unfitted classifier over the shared features, with ``decision_function``; default
        ``PCA(120)`` then an RBF ``SVC(C=25)``, the compact profile's head.
    calibration_size : int, default=3000
        Rows held out of ``fit``'s data to fit the temperature (:mod:`digit_core.calibration`).
    random_state : int, default=0

    Attributes
    ----------
    features_ : Pipeline
        Fitted shared front: frames ``(n, 784)`` -> features ``(n, 392)``.
    classifier_ : sklearn.calibration.CalibratedClassifierCV
        Calibrated classifier over the features.
    not_a_digit_ : estimator or None
        Digit (class 1) or not (class 0) over the features, with ``decision_function``; ``fit``
        leaves it None (see :func:`digit_core.rejection.fit_not_a_digit`).
    threshold_ : float or ndarray of shape (n_classes,)
        ``not_a_digit_``'s decision value below which a frame is not a digit; one per class (the
        class the classifier reads the frame as) when the line depends on the digit read
        (:func:`digit_core.rejection.class_thresholds`).
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    """

    def __init__(self, classifier=None, *, calibration_size: int = 3000, random_state: int = 0):
        self.classifier = classifier
        self.calibration_size = calibration_size
        self.random_state = random_state

    def fit(self, X, y):
        """Fit the features, the classifier on all but a held-out calibration split, and the
        temperature on that split; no "not a digit" part.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784), float in [0, 1]
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        features = make_features().fit(X)
        F = features.transform(X)
        fit_index, calibration_index = calibration_split(len(y), y, size=self.calibration_size, random_state=self.random_state)
        classifier = self.classifier if self.classifier is not None else _default_classifier()
        head = clone(classifier).fit(F[fit_index], y[fit_index])
        return self._set_parts(features, calibrate(head, F[calibration_index], y[calibration_index]), None, 0.0)

    @classmethod
    def from_parts(cls, features, classifier, *, not_a_digit=None, threshold: float | np.ndarray = 0.0) -> "DigitModel":
        """A fitted model from fitted parts (how training, with its augmentation and accelerated
        SVC, and the conversion of old files build one).

        Parameters
        ----------
        features : fitted transformer, frames ``(n, 784)`` -> features
        classifier : fitted classifier over the features, with ``predict_proba`` and ``classes_``
        not_a_digit : fitted binary classifier over the features with ``decision_function``, optional
        threshold : float or array-like of shape (n_classes,), default=0.0
            One line, or one per class the frame is read as.
        """
        return cls()._set_parts(features, classifier, not_a_digit, threshold)

    @classmethod
    def from_calibrated_pipeline(cls, calibrated) -> "DigitModel":
        """The model of an earlier file: a ``CalibratedClassifierCV`` over a frozen
        ``deskew, features, reduce, svc`` pipeline, perhaps with ``not_a_digit_`` and
        ``not_a_digit_threshold_`` attributes. The same fitted parts, re-wrapped: same readings."""
        (inner,) = calibrated.calibrated_classifiers_
        front, head = split_pipeline(inner.estimator.estimator)
        frozen = FrozenEstimator(head)
        rewrapped_inner = copy.copy(inner)
        rewrapped_inner.estimator = frozen
        rewrapped = copy.copy(calibrated)
        rewrapped.estimator, rewrapped.calibrated_classifiers_ = frozen, [rewrapped_inner]
        # The old layout's rejector lives on as the model's own part, not as a copy in the classifier.
        for stale in _OLD_REJECTOR_ATTRIBUTES:
            vars(rewrapped).pop(stale, None)
        rewrapped.n_features_in_ = front.transform(np.zeros((1, calibrated.n_features_in_), np.float32)).shape[1]
        old = vars(calibrated)
        rejector = old.get("not_a_digit_")
        rejector_head = None if rejector is None else split_pipeline(rejector)[1]
        return cls.from_parts(front, rewrapped, not_a_digit=rejector_head, threshold=float(old.get("not_a_digit_threshold_", 0.0)))

    def with_not_a_digit(self, not_a_digit, threshold: float | np.ndarray) -> "DigitModel":
        """This model's features and classifier (shared, not copied) with another "not a digit" part."""
        check_is_fitted(self)
        return DigitModel.from_parts(self.features_, self.classifier_, not_a_digit=not_a_digit, threshold=threshold)

    def _set_parts(self, features, classifier, not_a_digit, threshold) -> "DigitModel":
        classes = np.asarray(classifier.classes_)
        threshold = np.asarray(threshold, dtype=np.float64)
        if threshold.ndim and threshold.shape != classes.shape:
            raise ValueError(f"threshold must be one number or one per class ({len(classes)}); got shape {threshold.shape}.")
        self.features_ = features
        self.classifier_ = classifier
        self.not_a_digit_ = not_a_digit
        self.threshold_ = threshold if threshold.ndim else float(threshold)
        self.classes_ = classes
        self.n_features_in_ = int(features.n_features_in_)
        return self

    def transform_features(self, X) -> np.ndarray:
        """The shared features of frames ``(n, 784)`` (or ``(n, 28, 28)``): ``(n, n_features)``."""
        check_is_fitted(self)
        rows = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        return self.features_.transform(rows)

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, ``(n, n_classes)``, for frames ``(n, 784)``."""
        F = self.transform_features(X)
        return self.classifier_.predict_proba(F)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each frame, ``(n,)``."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]

    def digit_likeness(self, X) -> np.ndarray | None:
        """How much each frame looks like a digit, ``(n,)``: the "not a digit" part's decision value
        less its threshold (the threshold of the class the frame is read as, when there is one per
        class), below 0 not a digit; None when the model has no such part."""
        return self.read(X)[1]

    def read(self, X, *, per_class: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Both heads from one pass of the features: ``(predict_proba(X), digit_likeness(X))``.

        With ``per_class=False`` and a line per class, the likeness is against one line for all, the
        median of the class lines: comparable between marks read as different digits, to weigh
        cuts on a page nothing is refused from."""
        F = self.transform_features(X)
        probabilities = self.classifier_.predict_proba(F)
        return probabilities, self._likeness(F, probabilities, per_class=per_class)

    def _likeness(self, F: np.ndarray, probabilities: np.ndarray, *, per_class: bool = True) -> np.ndarray | None:
        if self.not_a_digit_ is None:
            return None
        threshold = np.asarray(self.threshold_)
        if threshold.ndim:
            threshold = threshold[np.argmax(probabilities, axis=1)] if per_class else np.median(threshold)
        return self.not_a_digit_.decision_function(F) - threshold


def _default_classifier() -> Pipeline:
    # The compact profile's head (reasons in digit_core.model.PROFILES).
    return Pipeline([("reduce", PCA(n_components=120, random_state=0)), ("svc", SVC(C=25.0, kernel="rbf", gamma="scale"))])
