"""Training one model: hold out a calibration split, augment, fit with scikit-learn-intelex, calibrate.

The returned model is a plain scikit-learn estimator (no scikit-learn-intelex types), ready for
:func:`digit_core.persistence.save_model`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .augment import augment
from .calibration import calibrate, calibration_split
from .data import ExtraSamples, Split
from .digit_model import DigitModel, split_pipeline
from .model import PROFILES, Profile, make_pipeline, to_plain_svc
from .rejection import (
    class_thresholds,
    digits_as_people_write_them,
    fit_not_a_digit,
    make_rejector,
    non_digit_frames,
    site_held_out_decisions,
)

__all__ = ["TrainingResult", "train_model", "STAGES", "NotADigitResult", "train_not_a_digit"]

#: The stages of :func:`train_model`, in order, as reported to ``on_stage``.
STAGES = ("split", "augment", "fit", "calibrate", "reject")


@dataclass
class TrainingResult:
    """A trained, calibrated model and what it took.

    Attributes
    ----------
    model : DigitModel
        ``predict_proba(X)`` and ``digit_likeness(X)`` on flattened frames ``(n, 784)``.
    profile : Profile
    n_fit : int
        Rows the SVC was fitted on (after augmentation).
    n_calibration : int
    n_extra : int
        Extra labelled drawings included (before augmentation).
    n_drawn : int
        Frames of pen digits drawn as canvas strokes included.
    n_support_vectors : int
    seconds : dict
        Wall time of each stage.
    """

    model: object
    profile: Profile
    n_fit: int
    n_calibration: int
    n_extra: int
    n_support_vectors: int
    n_drawn: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def train_model(
    train: Split,
    *,
    profile: str | Profile = "compact",
    extra: ExtraSamples | None = None,
    drawn: ExtraSamples | None = None,
    random_state: int = 0,
    n_jobs: int | None = -1,
    on_stage: Callable[[str, float], None] | None = None,
) -> TrainingResult:
    """Train and calibrate a model on MNIST training frames plus optional extra drawings.

    Parameters
    ----------
    train : Split
        Frames ``(n, 28, 28)`` float32 in [0, 1] and labels ``(n,)``.
    profile : {'compact', 'full'} or Profile
    extra : ExtraSamples, optional
        People's labelled drawings; they join the training rows (never the calibration split) and
        are augmented like MNIST.
    drawn : ExtraSamples, optional
        Frames of digits already drawn as canvas strokes in several brushes (real pen digits, see
        :func:`digit_core.real_data.frame_pen_digits`): they join the training rows with the copies
        ``profile.drawn_augmentation`` asks for (rotated and elastic). Not redrawn again: on top of
        MNIST's own pen-redrawn copies, their redrawn copies outweighed MNIST (99.36% on its test set
        against 99.45%).
    random_state : int
    n_jobs : int, optional
        Workers for augmentation (joblib).
    on_stage : callable(stage, seconds), optional
        Called after each stage in :data:`STAGES` with its wall time.

    Returns
    -------
    TrainingResult
    """
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    seconds: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        seconds[name] = time.perf_counter() - start
        if on_stage is not None:
            on_stage(name, seconds[name])

    with stage("split"):
        fit_index, calibration_index = calibration_split(
            len(train), train.labels, size=profile.calibration_size, random_state=random_state
        )
        fit_frames = train.images[fit_index]
        fit_labels = train.labels[fit_index]
        n_extra = 0
        if extra is not None and len(extra.labels):
            fit_frames = np.concatenate([fit_frames, extra.images.astype(np.float32)])
            fit_labels = np.concatenate([fit_labels, extra.labels.astype(train.labels.dtype)])
            n_extra = len(extra.labels)
    with stage("augment"):
        fit_frames, fit_labels = augment(
            fit_frames, fit_labels, profile.augmentation, random_state=random_state, n_jobs=n_jobs
        )
        if drawn is not None and len(drawn.labels):
            drawn_frames, drawn_labels = augment(
                drawn.images, drawn.labels, profile.drawn_augmentation, random_state=random_state + 1, n_jobs=n_jobs
            )
            fit_frames = np.concatenate([fit_frames, drawn_frames])
            fit_labels = np.concatenate([fit_labels, drawn_labels.astype(fit_labels.dtype)])
    with stage("fit"):
        pipeline = make_pipeline(profile, accelerated=True)
        pipeline.fit(fit_frames.reshape(len(fit_frames), -1), fit_labels)
        pipeline.steps[-1] = ("svc", to_plain_svc(pipeline.steps[-1][1]))
    with stage("calibrate"):
        features, head = split_pipeline(pipeline)
        calibration_frames = train.images[calibration_index]
        calibration_features = features.transform(calibration_frames.reshape(len(calibration_frames), -1))
        model = DigitModel.from_parts(features, calibrate(head, calibration_features, train.labels[calibration_index]))
    with stage("reject"):
        # As many non-digits as the training set's size warrants: none for a trial on a few thousand
        # MNIST images (a model without a rejector rejects nothing), the profile's for all of MNIST.
        letters_per_font = round(profile.rejector_letters_per_font * min(1.0, len(train) / 60_000))
        if letters_per_font:
            original = train.images[fit_index]
            pictured = drawn.images if drawn is not None else np.zeros((0, 28, 28), np.float32)
            model = model.with_not_a_digit(*_fit_rejector(model, original, pictured, letters_per_font, random_state=random_state, n_jobs=n_jobs))
    return TrainingResult(
        model=model,
        profile=profile,
        n_fit=len(fit_labels),
        n_calibration=len(calibration_index),
        n_extra=n_extra,
        n_drawn=0 if drawn is None else len(drawn.labels),
        n_support_vectors=int(pipeline.named_steps["svc"].support_vectors_.shape[0]),
        seconds=seconds,
    )


#: Digits the rejector learns from: MNIST training frames, and drawn ones (a fifth of which are kept
#: back to set its threshold).
_REJECTOR_MNIST = 10_000
_REJECTOR_DRAWN = 15_000
#: The rejector's threshold answers this percentage of the kept-back drawn digits "not a digit". Other
#: writers' digits are rejected more often than these (on the held-out UNIPEN sites: 2.0%, with 83.9%
#: of letters in held-out fonts; with fewer letters taught, 1.8% at 0.25 and 4.0% at 1.0).
_REJECTED_DIGITS_PERCENT = 0.25


def _fit_rejector(model: DigitModel, mnist: np.ndarray, drawn: np.ndarray, letters_per_font: int, *, random_state: int, n_jobs: int | None):
    rng = np.random.default_rng(random_state)
    mnist = np.asarray(mnist, dtype=np.float32)[rng.choice(len(mnist), min(_REJECTOR_MNIST, len(mnist)), replace=False)]
    drawn = np.asarray(drawn, dtype=np.float32)[rng.permutation(len(drawn))[:_REJECTOR_DRAWN]]
    kept_back = drawn[: len(drawn) // 5] if len(drawn) else mnist[: len(mnist) // 5]
    digits = np.concatenate([mnist, drawn[len(drawn) // 5 :]]) if len(drawn) else mnist[len(mnist) // 5 :]
    others = non_digit_frames(digits, letters_per_font=letters_per_font, random_state=random_state, n_jobs=n_jobs)
    rows = model.transform_features(np.concatenate([digits, others]))
    rejector = make_rejector().fit(rows, np.r_[np.ones(len(digits)), np.zeros(len(others))])
    threshold = float(np.percentile(rejector.decision_function(model.transform_features(kept_back)), _REJECTED_DIGITS_PERCENT))
    return rejector, threshold


@dataclass
class NotADigitResult:
    """A model with a new "not a digit" part, and the site-held-out measurement that set its thresholds.

    Attributes
    ----------
    model : DigitModel
        The given model's features and classifier, unchanged, with the new part.
    decisions : list of SiteDecisions
        Each site's digits and letters judged by a rejector trained without the site, with the class
        the model reads each as.
    thresholds : ndarray of shape (n_classes,)
        One line per class read (:func:`digit_core.rejection.class_thresholds`).
    """

    model: DigitModel
    decisions: list
    thresholds: np.ndarray


def train_not_a_digit(
    model: DigitModel,
    *,
    mnist: Split,
    pen: tuple[np.ndarray, np.ndarray],
    letters: tuple[np.ndarray, np.ndarray],
    held_out_sites: tuple[str, ...] = (),
    refused: float = 0.0075,
    letters_per_font: int = 6,
    random_state: int = 0,
    n_jobs: int | None = 1,
) -> NotADigitResult:
    """Teach a model's "not a digit" part real letters and set its thresholds across sites.

    The part learns digits (MNIST's, with slashed 0s and flagged 1s:
    :func:`digit_core.rejection.digits_as_people_write_them`, and the sites' pen digits) against real
    letters, font letters, scribbles and blots. Its thresholds, one per class the model reads a
    mark as, are the highest at which, leave-one-site-out, no site refuses more than ``refused`` of
    its digits (:func:`digit_core.rejection.class_thresholds`). The part itself is trained on every
    site but ``held_out_sites`` (kept for measuring).

    Parameters
    ----------
    model : DigitModel
    mnist : Split
        MNIST training frames and labels (digits of no site; the font letters' blots are made from them).
    pen, letters : (frames of shape (n, 28, 28), sites of shape (n,))
        Pen digits, and pen letters taught as "not a digit"
        (:func:`digit_core.rejection.taught_letters`), drawn and framed as on the canvas.
    held_out_sites : tuple of str
    refused : float, default=0.0075
        A margin under the bar of 1%. Leave-one-site-out, that is the worst site's loss: the mean of
        the sites is about half of it (0.32%), below what 0.005 cost in letters (62% refused, not 79%).
    letters_per_font : int, default=6
    """
    rng = np.random.default_rng(random_state)
    chosen = rng.choice(len(mnist), min(_REJECTOR_MNIST, len(mnist)), replace=False)
    mnist_frames = np.asarray(mnist.images, dtype=np.float32)[chosen]
    shared_others = non_digit_frames(mnist_frames, letters_per_font=letters_per_font, random_state=random_state, n_jobs=n_jobs)
    shared_digits = digits_as_people_write_them(mnist_frames, mnist.labels[chosen], random_state=random_state)
    shared_digits, shared_others = model.transform_features(shared_digits), model.transform_features(shared_others)
    (pen_frames, pen_sites), (letter_frames, letter_sites) = pen, letters
    digits, others = model.transform_features(pen_frames), model.transform_features(letter_frames)
    read_as = [np.argmax(model.classifier_.predict_proba(rows), axis=1) for rows in (digits, others)]
    decisions = site_held_out_decisions(
        digits, pen_sites, others, letter_sites, shared_digits=shared_digits, shared_others=shared_others,
        digit_classes=read_as[0], letter_classes=read_as[1], random_state=random_state, n_jobs=n_jobs,
    )
    thresholds = class_thresholds(decisions, n_classes=len(model.classes_), refused=refused)
    digit_training, letter_training = ~np.isin(pen_sites, held_out_sites), ~np.isin(letter_sites, held_out_sites)
    rejector = fit_not_a_digit(
        np.concatenate([shared_digits, digits[digit_training]]),
        np.concatenate([shared_others, others[letter_training]]),
        random_state=random_state,
    )
    return NotADigitResult(model.with_not_a_digit(rejector, thresholds), decisions, thresholds)
