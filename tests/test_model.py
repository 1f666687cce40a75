"""The pipeline factory, training with scikit-learn-intelex, and calibrated probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from digit_core.calibration import calibration_split, expected_calibration_error
from digit_core.evaluation import evaluate
from digit_core.inference import predict_proba
from digit_core.reading import read_digits
from digit_core.model import PROFILES, make_pipeline, to_plain_svc


def test_pipeline_has_named_steps_and_every_setting_is_reachable():
    pipeline = make_pipeline("compact")
    assert [name for name, _ in pipeline.steps] == ["deskew", "features", "reduce", "svc"]
    pipeline.set_params(svc__C=3.0, features__sigma=1.5, reduce__n_components=50)
    assert pipeline.get_params()["svc__C"] == 3.0
    assert clone(pipeline).get_params()["features__sigma"] == 1.5


def test_full_profile_keeps_all_features():
    pipeline = make_pipeline("full")
    assert pipeline.named_steps["reduce"].func is None
    assert PROFILES["full"].augmentation.copies == 14


def test_unknown_profile_is_named():
    with pytest.raises(ValueError, match="'tiny'"):
        make_pipeline("tiny")


@pytest.mark.slow
def test_accelerated_svc_converts_to_plain_scikit_learn_with_the_same_decisions(mnist_train, mnist_test):
    X = mnist_train.images[:1500].reshape(1500, -1)
    accelerated = make_pipeline("compact", accelerated=True).fit(X, mnist_train.labels[:1500])
    before = accelerated.decision_function(mnist_test.images[:200].reshape(200, -1))
    accelerated.steps[-1] = ("svc", to_plain_svc(accelerated.steps[-1][1]))
    assert type(accelerated.named_steps["svc"]).__module__.startswith("sklearn.")
    np.testing.assert_allclose(accelerated.decision_function(mnist_test.images[:200].reshape(200, -1)), before, atol=1e-4)


@pytest.mark.slow
def test_small_model_reads_mnist_and_its_probabilities_are_calibrated(small_model, mnist_test):
    evaluation = evaluate(small_model, mnist_test.head(2000))
    assert evaluation.accuracy > 0.97
    assert evaluation.ece < 0.02
    np.testing.assert_allclose(evaluation.probabilities.sum(axis=1), 1.0, atol=1e-6)


def test_prediction_gives_top_3_in_decreasing_order(small_model, mnist_test):
    digit = read_digits(small_model, mnist_test.images[0], single=True).digits[0]
    top = list(digit.top(3).items())
    assert len(top) == 3 and top[0][0] == "7" and top[0][1] >= top[1][1] >= top[2][1]


def test_probabilities_have_a_column_per_digit(small_model, mnist_test):
    assert predict_proba(small_model, mnist_test.images[:7]).shape == (7, 10)


def test_calibration_split_is_stratified_and_disjoint(mnist_train):
    labels = mnist_train.labels[:5000]
    fit, held = calibration_split(5000, labels, size=500)
    assert len(held) == 500 and not set(fit) & set(held)
    assert np.bincount(labels[held], minlength=10).min() >= 40


def test_calibration_split_refuses_tiny_data():
    with pytest.raises(ValueError, match="too few"):
        calibration_split(20, np.arange(20) % 10, size=10)


def test_expected_calibration_error_of_known_cases():
    labels = np.array([0, 1, 0, 1])
    certain_and_right = np.eye(2)[labels]
    assert expected_calibration_error(certain_and_right, labels) == 0.0
    certain_and_wrong = np.eye(2)[1 - labels]
    assert expected_calibration_error(certain_and_wrong, labels) == pytest.approx(1.0)
    half = np.full((4, 2), 0.5)
    assert expected_calibration_error(half, labels) == pytest.approx(0.0)


def test_expected_calibration_error_checks_shapes():
    with pytest.raises(ValueError, match="got"):
        expected_calibration_error(np.zeros((3, 2)), np.zeros(4))
