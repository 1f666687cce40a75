"""Pipeline transformers: the estimator contract, agreement with scikit-image, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from digit_core.features import Deskew, GradientDirectionFeatures, gradient_direction_features


def _contract_checks():
    # Every check of scikit-learn's estimator contract (what parametrize_with_checks runs), less the
    # array-API input check: these transformers work on numpy images and do not claim array-API support.
    for estimator in (Deskew(), GradientDirectionFeatures()):
        for checked, check in estimator_checks_generator(estimator, legacy=True):
            name = getattr(check, "func", check).__name__
            if name != "check_array_api_input":
                yield pytest.param(checked, check, id=f"{type(checked).__name__}-{name}")


@pytest.mark.parametrize("estimator, check", list(_contract_checks()))
def test_transformers_follow_the_scikit_learn_contract(estimator, check):
    check(estimator)


def test_gradient_direction_features_have_8x7x7_non_negative_values(mnist_test):
    features = gradient_direction_features(mnist_test.images[:5])
    assert features.shape == (5, 392) and features.dtype == np.float32 and (features >= 0).all()


def test_gradient_direction_features_of_a_batch_equal_those_of_each_image(mnist_test):
    images = mnist_test.images[:300]
    batch = gradient_direction_features(images)
    single = np.concatenate([gradient_direction_features(image[None]) for image in images[:5]])
    np.testing.assert_allclose(batch[:5], single, rtol=1e-5, atol=1e-6)


def test_images_never_leak_into_each_others_features(mnist_test):
    pair = mnist_test.images[:2]
    alone = gradient_direction_features(pair[:1])
    together = gradient_direction_features(np.stack([pair[0], np.ones((28, 28), np.float32)]))
    np.testing.assert_allclose(alone[0], together[0], atol=1e-6)


def test_transform_refuses_rows_of_another_width(mnist_test):
    fitted = GradientDirectionFeatures().fit(mnist_test.images[:3].reshape(3, -1))
    with pytest.raises(ValueError, match="784 features"):
        fitted.transform(np.zeros((2, 100)))


@pytest.mark.parametrize(
    "estimator, message",
    [
        (GradientDirectionFeatures(grid=0), "grid must be a positive integer; got 0"),
        (Deskew(image_shape=(10, 10)), r"image_shape=\(10, 10\) does not match X with 784 features"),
    ],
)
def test_bad_parameters_are_named_in_the_error(mnist_test, estimator, message):
    with pytest.raises(ValueError, match=message):
        estimator.fit(mnist_test.images[:2].reshape(2, -1))
