"""The digit model: one estimator with the classifier, the "not a digit" score and its threshold."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.utils.estimator_checks import estimator_checks_generator

from digit_core.calibration import calibrate
from digit_core.digit_model import DigitModel
from digit_core.model import make_pipeline
from digit_core.persistence import TRUSTED_TYPES, load_model, save_model, untrusted_types
from digit_core.config import STARTER_MODEL_PATH
from digit_core.errors import ModelLoadError

#: The contract checks that need no fit on a few dozen random rows (fit holds out a calibration
#: split of at least 10 rows and reduces 392 features to 120: the checks' toy data is too small).
_CONTRACT_CHECKS = {
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_estimators_unfitted",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
    "check_estimators_empty_data_messages",
    "check_classifiers_regression_target",
    "check_supervised_y_no_nan",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_fit1d",
    "check_requires_y_none",
}


def _contract_checks():
    for estimator, check in estimator_checks_generator(DigitModel(), legacy=True):
        name = getattr(check, "func", check).__name__
        if name in _CONTRACT_CHECKS:
            yield pytest.param(estimator, check, id=name)


@pytest.mark.parametrize("estimator, check", list(_contract_checks()))
def test_digit_model_follows_the_scikit_learn_contract(estimator, check):
    check(estimator)


def test_digit_model_fit_reads_mnist_without_a_not_a_digit_part(mnist_train, mnist_test):
    train = mnist_train.head(1500)
    model = DigitModel(calibration_size=300).fit(train.images.reshape(1500, -1), train.labels)
    X = mnist_test.images[:500].reshape(500, -1)
    assert (model.predict(X) == mnist_test.labels[:500]).mean() > 0.9
    assert model.digit_likeness(X) is None and model.not_a_digit_ is None
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)


def test_digit_model_reads_both_heads_from_one_pass_of_the_features(starter_model, mnist_test, monkeypatch):
    X = mnist_test.images[:20].reshape(20, -1)
    probabilities, likeness = starter_model.predict_proba(X), starter_model.digit_likeness(X)
    calls = []
    transform = starter_model.features_.transform
    monkeypatch.setattr(starter_model.features_, "transform", lambda rows: calls.append(len(rows)) or transform(rows))
    both = starter_model.read(X)
    assert calls == [20]
    np.testing.assert_array_equal(both[0], probabilities)
    np.testing.assert_array_equal(both[1], likeness)


def test_a_threshold_per_class_judges_each_frame_by_the_line_of_the_digit_it_is_read_as(starter_model, mnist_test):
    X = mnist_test.images[:50].reshape(50, -1)
    read_as = starter_model.predict(X)
    decision = starter_model.not_a_digit_.decision_function(starter_model.transform_features(X))
    lines = np.linspace(-2.0, 2.0, 10)
    per_class = starter_model.with_not_a_digit(starter_model.not_a_digit_, lines)
    np.testing.assert_allclose(per_class.digit_likeness(X), decision - lines[read_as])
    # To compare marks read as different digits (cuts on a page nothing is refused from): one line.
    np.testing.assert_allclose(per_class.read(X, per_class=False)[1], decision - np.median(lines))
    with pytest.raises(ValueError, match="one per class \\(10\\); got shape \\(3,\\)"):
        starter_model.with_not_a_digit(starter_model.not_a_digit_, np.zeros(3))


def test_starter_model_file_is_one_digit_model_of_trusted_types(starter_model):
    assert isinstance(starter_model, DigitModel) and starter_model.not_a_digit_ is not None
    assert untrusted_types(STARTER_MODEL_PATH) == []


def test_a_file_of_the_earlier_layout_loads_as_a_digit_model_with_the_same_probabilities(mnist_train, mnist_test, tmp_path):
    import skops.io as sio

    X, y = mnist_train.images[:1500].reshape(1500, -1), mnist_train.labels[:1500]
    pipeline = make_pipeline("compact").fit(X[:1200], y[:1200])
    earlier = calibrate(pipeline, X[1200:], y[1200:])  # a calibrated pipeline, as files held before
    sio.dump(earlier, tmp_path / "earlier.skops")
    loaded = load_model(tmp_path / "earlier.skops")
    as_it_was = sio.load(tmp_path / "earlier.skops", trusted=list(TRUSTED_TYPES))
    frames = mnist_test.images[:200].reshape(200, -1)
    assert isinstance(loaded, DigitModel) and loaded.digit_likeness(frames) is None
    np.testing.assert_array_equal(loaded.predict_proba(frames), as_it_was.predict_proba(frames))


def test_an_earlier_files_rejector_becomes_the_models_part_and_leaves_no_copy_in_the_classifier(starter_model):
    from sklearn.pipeline import Pipeline

    earlier = copy.copy(starter_model.classifier_)  # the classifier as an earlier file held it, rejector attached
    earlier.not_a_digit_ = Pipeline([*starter_model.features_.steps, *starter_model.not_a_digit_.steps])
    earlier.not_a_digit_threshold_ = -1.5
    earlier.estimator = FrozenEstimator(Pipeline([*starter_model.features_.steps, *earlier.estimator.estimator.steps]))
    inner = copy.copy(earlier.calibrated_classifiers_[0])
    inner.estimator = earlier.estimator
    earlier.calibrated_classifiers_ = [inner]
    earlier.n_features_in_ = 784
    converted = DigitModel.from_calibrated_pipeline(earlier)
    assert converted.not_a_digit_ is not None and converted.threshold_ == -1.5
    assert not hasattr(converted.classifier_, "not_a_digit_") and not hasattr(converted.classifier_, "not_a_digit_threshold_")
    assert not hasattr(starter_model.classifier_, "not_a_digit_")  # the bundled file holds one rejector


def test_a_file_holding_another_estimator_is_refused_as_not_a_digit_model(tmp_path):
    from sklearn.decomposition import PCA

    save_model(PCA(n_components=2).fit(np.eye(4)), tmp_path / "pca.skops")
    with pytest.raises(ModelLoadError, match="not a digit model"):
        load_model(tmp_path / "pca.skops")
