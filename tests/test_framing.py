"""Any drawing -> the MNIST frame: properties that hold whatever the drawing's size, place and polarity."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digit_core.errors import NoDigitFoundError
from digit_core.features import Deskew
from digit_core.framing import BOX_SIZE, MNIST_STROKE_WIDTH, deskew, estimate_stroke_width, frame_from_ink, to_mnist_frame
from tests.drawing import draw_on_canvas, paper_scan


def _slant(frames: np.ndarray) -> np.ndarray:
    """mu11 / mu02 of each frame: 0 for an upright digit."""
    y, x = np.mgrid[0:28, 0:28]
    out = []
    for f in frames:
        cy, cx = ndimage.center_of_mass(f)
        out.append(((x - cx) * (y - cy) * f).sum() / ((y - cy) ** 2 * f).sum())
    return np.array(out)


@pytest.mark.parametrize("index", range(8))
def test_centre_of_mass_is_within_half_a_pixel_of_14_14(mnist_test, index):
    drawing = draw_on_canvas(mnist_test.images[index], digit_height=180 + 15 * index, brush=10 + 2 * index, centre=(150 + 10 * index, 240 - 9 * index))
    frame = to_mnist_frame(drawing)
    row, col = ndimage.center_of_mass(frame)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_frame_is_28x28_float32_in_unit_range_with_the_digit_in_a_20_pixel_box(mnist_test):
    frame = to_mnist_frame(draw_on_canvas(mnist_test.images[3], digit_height=300, brush=24))
    assert frame.shape == (28, 28) and frame.dtype == np.float32
    assert frame.min() >= 0 and frame.max() == pytest.approx(1.0)
    rows, cols = np.nonzero(frame > 0.05)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= BOX_SIZE + 1


def test_same_frame_whatever_the_size_position_and_polarity(mnist_test):
    digit = mnist_test.images[1]
    reference = to_mnist_frame(draw_on_canvas(digit, digit_height=250, brush=18, centre=(200, 200)))
    variants = [
        draw_on_canvas(digit, digit_height=120, brush=9, centre=(90, 300)),
        draw_on_canvas(digit, digit_height=330, brush=24, centre=(230, 180), background="white"),
        Image.fromarray(255 - np.asarray(draw_on_canvas(digit, digit_height=200, brush=15, background="white").convert("L"))),
    ]
    for variant in variants:
        frame = to_mnist_frame(variant)
        assert np.corrcoef(frame.ravel(), reference.ravel())[0, 1] > 0.9


def test_mnist_frames_pass_through_almost_unchanged(mnist_test):
    frames = mnist_test.images[:50]
    reframed = np.stack([to_mnist_frame(f) for f in frames])
    correlation = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(frames, reframed)]
    assert np.median(correlation) > 0.97


@pytest.mark.parametrize(
    "image",
    [
        np.ones((400, 400)),
        np.zeros((400, 400)),
        np.zeros((400, 400, 4), dtype=np.uint8),
        np.random.default_rng(0).normal(0.8, 0.01, (300, 300)).clip(0, 1),
    ],
    ids=["white", "black", "transparent", "faint-noise"],
)
def test_blank_images_raise_no_digit_found(image):
    with pytest.raises(NoDigitFoundError, match="no digit found"):
        to_mnist_frame(image)


def test_a_lone_dot_is_not_a_digit():
    canvas = np.ones((400, 400))
    canvas[200:204, 200:204] = 0
    with pytest.raises(NoDigitFoundError, match="Draw a whole digit"):
        to_mnist_frame(canvas)


def test_noisy_scan_on_uneven_paper_gives_a_clean_frame(mnist_test, rng):
    digit = mnist_test.images[2]
    frame = to_mnist_frame(paper_scan(digit, size=150, rng=rng, noise=0.05))
    assert np.corrcoef(frame.ravel(), to_mnist_frame(digit).ravel())[0, 1] > 0.85
    assert (frame[:, :3] == 0).all() and (frame[:3] == 0).all()  # no paper grain left in the margins


def test_hairline_strokes_are_brought_to_mnist_width(mnist_test):
    frame = to_mnist_frame(draw_on_canvas(mnist_test.images[4], digit_height=300, brush=3))
    width = estimate_stroke_width(frame > 0.5)
    assert MNIST_STROKE_WIDTH - 1.2 <= width <= MNIST_STROKE_WIDTH + 1.2


def test_fat_strokes_are_kept_as_drawn(mnist_test):
    # Thinning a fat brush's strokes read worse on real drawings than leaving them fat.
    frame = to_mnist_frame(draw_on_canvas(mnist_test.images[4], digit_height=300, brush=90))
    assert estimate_stroke_width(frame > 0.5) > MNIST_STROKE_WIDTH + 2


def test_frame_from_ink_with_empty_mask_raises():
    with pytest.raises(NoDigitFoundError):
        frame_from_ink(np.zeros((30, 30)))


def test_deskew_reduces_slant(mnist_test):
    frames = mnist_test.images[:300]
    slanted = np.abs(_slant(frames)) > 0.2
    straightened = deskew(frames[slanted])
    assert slanted.sum() > 30
    assert np.abs(_slant(straightened)).mean() < 0.3 * np.abs(_slant(frames[slanted])).mean()


def test_deskew_of_a_batch_equals_deskew_of_each_image(mnist_test):
    frames = mnist_test.images[:20]
    batch = deskew(frames)
    one_by_one = np.stack([deskew(f[None])[0] for f in frames])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-6)


def test_deskew_leaves_empty_frames_alone():
    np.testing.assert_array_equal(deskew(np.zeros((2, 28, 28))), 0)


def test_deskew_step_in_the_pipeline_is_the_same_function(mnist_test):
    rows = mnist_test.images[:10].reshape(10, -1)
    np.testing.assert_allclose(Deskew().fit_transform(rows), deskew(mnist_test.images[:10]).reshape(10, -1))


@pytest.mark.parametrize("ink_tone", [0, 255])
def test_a_binary_scan_more_than_half_ink_is_framed_by_its_ink(ink_tone):
    # A 1 stretched to fill a 16x16 box and binarised (as the Semeion set is made) is a band wider
    # than the paper left beside it; uploaded enlarged 8x, its border tells the paper, and no
    # opening eats the band.
    rows, cols = np.mgrid[0:16, 0:16]
    band = np.abs(cols - 0.6 * (15 - rows) - 3) <= 4.5
    assert band.mean() > 0.5
    scan = np.where(band, ink_tone, 255 - ink_tone).astype(np.uint8)
    frame = to_mnist_frame(Image.fromarray(scan, "L").resize((128, 128), Image.Resampling.NEAREST))
    assert frame[14, 14] > 0.5
    assert (frame > 0.5).sum() > 0.8 * band.mean() * BOX_SIZE**2
