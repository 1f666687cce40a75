"""Reading scans and photos: single digits, whole numbers, and the hard cases of real paper."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from digit_core.errors import NoDigitFoundError
from digit_core.images import open_image
from digit_core.inference import predict_proba
from digit_core.reading import read_digits
from tests.drawing import encode, number_strip, paper_scan


def _strip(mnist_test, indices, rng, **options):
    return number_strip([mnist_test.images[i] for i in indices], rng=rng, **options)


def _truth(mnist_test, indices) -> str:
    return "".join(str(int(mnist_test.labels[i])) for i in indices)


@pytest.mark.slow
def test_scanned_single_digits_are_read_within_one_point_of_mnist(starter_model, mnist_test):
    rng = np.random.default_rng(5)
    index = rng.choice(len(mnist_test), 300, replace=False)
    labels = mnist_test.labels[index]
    mnist_accuracy = (predict_proba(starter_model, mnist_test.images[index]).argmax(1) == labels).mean()
    correct = 0
    for n, (i, label) in enumerate(zip(index, labels)):
        size = (48, 120, 400)[n % 3]
        page = paper_scan(mnist_test.images[i], size=size, rng=rng, noise=0.04)
        data = encode(page, "JPEG", quality=75) if n % 2 else encode(page, "PNG")
        correct += read_digits(starter_model, open_image(data)).text == str(label)
    scanned_accuracy = correct / len(index)
    print(f"MNIST {mnist_accuracy:.2%}, scanned {scanned_accuracy:.2%}")
    assert scanned_accuracy >= mnist_accuracy - 0.01


@pytest.mark.slow
def test_numbers_of_two_to_six_digits_are_read_exactly(starter_model, mnist_test):
    rng = np.random.default_rng(11)
    exact = digits_right = digits_total = 0
    n_strips = 150
    for _ in range(n_strips):
        indices = rng.choice(len(mnist_test), int(rng.integers(2, 7)), replace=False)
        page = _strip(mnist_test, indices, rng, height=int(rng.integers(40, 120)))
        text = read_digits(starter_model, open_image(encode(page, "JPEG" if rng.random() < 0.5 else "PNG", quality=80))).text
        truth = _truth(mnist_test, indices)
        exact += text == truth
        if len(text) == len(truth):
            digits_right += sum(a == b for a, b in zip(text, truth))
        digits_total += len(truth)
    print(f"exact numbers {exact / n_strips:.1%}, digits {digits_right / digits_total:.2%}")
    assert exact / n_strips >= 0.94  # framed from the page's ink instead of each digit's own crop: 93.3%


def test_boxes_are_in_the_original_image_coordinates(starter_model, mnist_test, rng):
    page = _strip(mnist_test, [0, 1], rng, height=400)  # large: read after reducing, boxes scaled back
    reading = read_digits(starter_model, page, working_side=300)
    assert reading.text == "72"
    (l1, t1, r1, b1), (l2, t2, r2, b2) = (d.box for d in reading.digits)
    assert r1 <= l2 + 5 and 0 <= l1 < r1 <= page.shape[1] and 0 <= t1 < b1 <= page.shape[0]
    for digit in reading.digits:
        left, top, right, bottom = digit.box
        assert (page[top:bottom, left:right] < 0.5).any()  # the box holds ink
    assert 0 < reading.confidence <= min(d.confidence for d in reading.digits)


def test_strokes_of_one_digit_that_do_not_touch_are_merged(starter_model, mnist_test, rng):
    # Every digit cut across the middle by a gap, as a 4 or a 5 written in two strokes.
    indices = [4, 5, 6]
    page = _strip(mnist_test, indices, rng, height=80, noise=0.0)
    ink_rows = np.flatnonzero((page < 0.5).any(axis=1))
    middle = (ink_rows[0] + ink_rows[-1]) // 2
    page[middle - 1 : middle + 2] = page.max()
    reading = read_digits(starter_model, page)
    assert len(reading.digits) == 3


def test_touching_digits_are_split(starter_model, mnist_test):
    indices = [0, 3, 2]  # 7 0 1
    frames = [mnist_test.images[i] for i in indices]
    height = 80
    size = int(28 * height / 40)
    coverage = np.zeros((size, 3 * size), np.float32)
    for k, frame in enumerate(frames):
        digit = np.asarray(Image.fromarray(frame, "F").resize((size, size), Image.Resampling.BICUBIC)).clip(0, 1)
        left = int(k * size * 0.62)  # neighbours overlap: their strokes touch
        np.maximum(coverage[:, left : left + size], digit, out=coverage[:, left : left + size])
    page = 0.95 - 0.8 * coverage[:, : int(2 * size * 0.62 + size)]
    reading = read_digits(starter_model, page)
    assert reading.text == "701"


def test_specks_and_dust_are_not_digits(starter_model, mnist_test, rng):
    page = _strip(mnist_test, [7, 8], rng, height=80)
    for row, col in zip(rng.integers(0, page.shape[0] - 3, 25), rng.integers(0, page.shape[1] - 3, 25)):
        page[row : row + 2, col : col + 2] = 0.2
    assert read_digits(starter_model, page).text == _truth(mnist_test, [7, 8])


def test_ruling_lines_and_a_frame_are_ignored(starter_model, mnist_test, rng):
    page = _strip(mnist_test, [9, 10, 11], rng, height=70)
    page = np.pad(page, 12, constant_values=0.93)
    page[5:7, :] = 0.2  # a ruled line above
    page[-9:-7, :] = 0.2  # and one below, touching nothing
    page[:, 2:4] = 0.2  # the box's sides
    page[:, -4:-2] = 0.2
    assert read_digits(starter_model, page).text == _truth(mnist_test, [9, 10, 11])


def test_a_line_through_the_digits_baseline_is_removed(starter_model, mnist_test, rng):
    page = _strip(mnist_test, [12, 13, 14, 15], rng, height=60, noise=0.0)
    ink_rows = np.flatnonzero((page < 0.5).any(axis=1))
    page[ink_rows[-1] - 1 : ink_rows[-1] + 1, :] = 0.15  # ruled line touching the digits' feet
    assert read_digits(starter_model, page).text == _truth(mnist_test, [12, 13, 14, 15])


def test_a_rule_scanned_as_dashes_is_removed_and_the_digits_kept(starter_model, mnist_test, rng):
    # A cheque's printed rule, thresholded over a security pattern, breaks into dozens of short flat
    # pieces: more marks than digits, and none of them sets the digits' height.
    page = _strip(mnist_test, [22, 23, 24, 25], rng, height=40, noise=0.0)
    ink_rows = np.flatnonzero((page < 0.5).any(axis=1))
    dashes = (np.arange(page.shape[1]) % 9) < 6  # 6 px of ink, 3 px of gap
    page[ink_rows[0] - 3, dashes] = 0.15  # above the digits
    page[ink_rows[-1], dashes] = 0.15  # at their feet, touching them
    assert read_digits(starter_model, page).text == _truth(mnist_test, [22, 23, 24, 25])


def test_light_ink_on_dark_paper_reads_the_same(starter_model, mnist_test, rng):
    page = _strip(mnist_test, [16, 17, 18], rng, height=70)
    assert read_digits(starter_model, 1.0 - page).text == _truth(mnist_test, [16, 17, 18])


def test_a_photo_stored_sideways_with_exif_rotation_reads_upright(starter_model, mnist_test, rng):
    page = _strip(mnist_test, [19, 20, 21], rng, height=90)
    stored = Image.fromarray(np.uint8(page * 255)).transpose(Image.Transpose.ROTATE_90).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    image = open_image(encode(stored, "JPEG", quality=90, exif=exif))
    assert read_digits(starter_model, image).text == _truth(mnist_test, [19, 20, 21])


def test_single_mode_reads_the_whole_image_as_one_digit(starter_model, mnist_test, rng):
    page = paper_scan(mnist_test.images[0], size=100, rng=rng)
    reading = read_digits(starter_model, page, single=True)
    assert reading.text == "7" and reading.digits[0].box == (0, 0, 100, 100)


def test_a_blank_page_has_no_digits(starter_model):
    with pytest.raises(NoDigitFoundError):
        read_digits(starter_model, np.full((300, 500), 0.9))
