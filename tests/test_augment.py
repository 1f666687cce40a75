"""Training-set augmentation, done on whole batches."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digit_core.augment import AugmentationPlan, affine_batch, augment, binary_scans, elastic_batch, redraw_batch, scan_batch
from digit_core.framing import to_mnist_frame
from digit_core.images import to_grayscale


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


def test_a_stretched_scan_of_a_one_fills_its_box(mnist_test):
    ones = mnist_test.images[mnist_test.labels == 1][:20]
    scans = binary_scans(ones, side=16)
    assert scans.shape == (20, 16, 16) and scans.dtype == bool
    # The ink spans the box both ways (its anti-aliased edge may miss the last pixel), as in a scan
    # stretched both ways (Semeion): a 1 becomes a band.
    for scan in scans:
        assert scan.any(axis=1).sum() >= 14 and scan.any(axis=0).sum() >= 14
    assert scans.mean() > 2 * (ones > 0.5).mean()


def test_a_scan_with_its_aspect_kept_leaves_a_one_narrow(mnist_test):
    ones = mnist_test.images[mnist_test.labels == 1][:20]
    scans = binary_scans(ones, side=16, stretch=False)
    assert all(scan.any(axis=1).sum() == 16 and scan.any(axis=0).sum() < 10 for scan in scans)


def test_scan_copies_are_framed_as_the_app_frames_the_upload_of_the_scan(mnist_test):
    frames = mnist_test.images[:10]
    scans = binary_scans(frames, side=12)
    copies = scan_batch(frames, side=12)
    assert copies.shape == (10, 28, 28) and copies.dtype == np.float32
    for scan, copy in zip(scans, copies):
        upload = Image.fromarray(np.where(scan, 0, 255).astype(np.uint8), "L").resize((96, 96), Image.Resampling.NEAREST)
        np.testing.assert_array_equal(copy, to_mnist_frame(to_grayscale(upload)))


def test_augment_adds_one_scan_copy_per_box_side(mnist_test):
    frames, labels = mnist_test.images[:10], mnist_test.labels[:10]
    plan = AugmentationPlan(scanned=(16, 12))
    out, out_labels = augment(frames, labels, plan, n_jobs=1)
    assert plan.copies == 3 and out.shape == (30, 28, 28) and out.dtype == np.float32
    np.testing.assert_array_equal(out[10:20], scan_batch(frames, side=16))
    np.testing.assert_array_equal(out_labels, np.tile(labels, 3))


def test_a_scan_smaller_than_four_pixels_is_refused(mnist_test):
    with pytest.raises(ValueError, match="side must be at least 4 pixels; got side=3"):
        binary_scans(mnist_test.images[:2], side=3)
