"""The whole-reading confidence map: monotone, within [0, 1], fitted honestly across folds."""

from __future__ import annotations

import numpy as np
import pytest

from digit_core.confidence import (
    CONFIDENCE_MAP,
    FEATURE_NAMES,
    apply_confidence_map,
    cross_fitted_confidence,
    fit_confidence_map,
    reading_confidence,
    reading_features,
    sure_readings,
)
from digit_core.images import open_image
from digit_core.reading import ReadDigit, read_digits
from digit_core.real_data import load_labelled_set
from tests.conftest import REAL_DIR


def _digit(top: float, box=(0, 0, 20, 40)) -> ReadDigit:
    p = np.full(10, (1 - top) / 9)
    p[3] = top
    return ReadDigit(np.zeros((28, 28), np.float32), p, box)


def test_confidence_map_stays_within_0_and_1(rng):
    features = rng.normal(0, 20, size=(500, len(FEATURE_NAMES)))
    p = apply_confidence_map(features)
    assert ((p >= 0) & (p <= 1)).all()


def test_confidence_map_is_monotone_in_every_feature(rng):
    features = rng.normal(0, 2, size=(200, len(FEATURE_NAMES)))
    base = apply_confidence_map(features)
    for k in range(len(FEATURE_NAMES)):
        surer = features.copy()
        surer[:, k] += 0.5
        assert (apply_confidence_map(surer) >= base - 1e-12).all(), FEATURE_NAMES[k]
    assert all(w >= 0 for w in CONFIDENCE_MAP[1])


def test_reading_confidence_rises_with_its_digits_and_never_passes_the_least_sure():
    boxes = [(0, 0, 20, 40), (25, 0, 45, 40), (50, 0, 70, 40)]
    sure = [_digit(0.999, b) for b in boxes]
    unsure = [_digit(0.999, boxes[0]), _digit(0.6, boxes[1]), _digit(0.999, boxes[2])]
    assert reading_confidence(unsure) <= reading_confidence(sure) <= 0.999
    assert reading_confidence(unsure) <= 0.6
    assert reading_confidence([_digit(0.8)]) == pytest.approx(0.8)
    assert reading_confidence([]) == 0.0


def test_reading_features_see_a_short_mark_on_the_line():
    tall = [_digit(0.99, (0, 0, 20, 40)), _digit(0.99, (25, 0, 45, 40))]
    dash = [_digit(0.99, (0, 0, 20, 40)), _digit(0.99, (25, 18, 45, 24))]
    height = FEATURE_NAMES.index("min_height")
    assert reading_features(dash)[height] < reading_features(tall)[height]


def test_fit_confidence_map_gives_non_negative_weights_on_real_cheques(starter_model):
    # Twenty real cheque amounts, read by the starter: the fitted map is monotone and its figures sane.
    cheques = load_labelled_set(REAL_DIR / "orand_car_a_train").items[:20]
    readings = [read_digits(starter_model, open_image(item.path)) for item in cheques]
    several = [r for r in readings if len(r.digits) >= 2]
    correct = np.array([r.text == item.label for r, item in zip(readings, cheques) if len(r.digits) >= 2])
    features = np.stack([reading_features(r.digits) for r in several])
    intercept, weights = fit_confidence_map(features, correct)
    assert all(w >= 0 for w in weights) and np.isfinite(intercept)
    crossed = cross_fitted_confidence([r.digits for r in several], correct, np.arange(len(several)) % 2)
    assert ((crossed >= 0) & (crossed <= 1)).all()


def test_sure_readings_count_share_of_all_and_accuracy():
    share, accuracy = sure_readings(np.array([0.95, 0.5, 0.92]), np.array([True, True, False]), 4)
    assert share == pytest.approx(0.5) and accuracy == pytest.approx(0.5)
