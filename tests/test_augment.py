"""Training-set augmentation, done on whole batches."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from digit_core.augment import AugmentationPlan, affine_batch, augment, elastic_batch, redraw_batch


def test_augment_returns_originals_then_each_transform_in_order(mnist_test):
    frames, labels = mnist_test.images[:10], mnist_test.labels[:10]
    plan = AugmentationPlan(shifts=((1, 0), (0, -1)), rotations=(5.0,), zooms=(0.9,), elastic=1, strokes=(1,), redrawn=(2.5,))
    out, out_labels = augment(frames, labels, plan, n_jobs=1)
    assert plan.copies == 8
    assert out.shape == (80, 28, 28) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:10], frames)
    np.testing.assert_array_equal(out_labels, np.tile(labels, 8))


def test_a_one_pixel_shift_moves_the_centre_of_mass_by_one_pixel(mnist_test):
    frames = mnist_test.images[:5]
    shifted = affine_batch(frames, np.eye(2), shift=(1, 0))
    for before, after in zip(frames, shifted):
        assert np.subtract(ndimage.center_of_mass(after), ndimage.center_of_mass(before)) == pytest.approx((1, 0), abs=0.05)


@pytest.mark.slow
def test_parallel_augmentation_equals_serial(mnist_test):
    plan = AugmentationPlan(shifts=((0, 1),), elastic=1)
    serial, _ = augment(mnist_test.images[:50], mnist_test.labels[:50], plan, n_jobs=1, random_state=3)
    parallel, _ = augment(mnist_test.images[:50], mnist_test.labels[:50], plan, n_jobs=2, random_state=3)
    np.testing.assert_allclose(serial, parallel)


def test_elastic_distortion_is_small_and_reproducible(mnist_test):
    frames = mnist_test.images[:20]
    one = elastic_batch(frames, alpha=2.5, sigma=4.0, rng=np.random.default_rng(1))
    two = elastic_batch(frames, alpha=2.5, sigma=4.0, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(one, two)
    assert all(np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.6 for a, b in zip(frames, one))


def test_redrawn_copies_keep_the_digit(mnist_test, small_model):
    frames = mnist_test.images[:200]
    redrawn = redraw_batch(frames, width=2.8)
    accuracy = (small_model.predict(redrawn.reshape(200, -1)) == mnist_test.labels[:200]).mean()
    assert accuracy > 0.93
