"""Decoding files and reducing any image mode to one grey channel."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from digit_core.errors import InvalidImageError
from digit_core.framing import to_mnist_frame
from digit_core.images import open_image, to_grayscale
from tests.drawing import draw_on_canvas, encode


@pytest.fixture(scope="module")
def drawing(mnist_test):
    """A real MNIST test digit (a 7) redrawn with black strokes on a transparent 400x400 canvas."""
    return draw_on_canvas(mnist_test.images[0], digit_height=260, brush=20)


@pytest.fixture(scope="module")
def drawing_on_white(drawing):
    """The same drawing as black on white, grey mode."""
    canvas = Image.new("RGBA", drawing.size, "white")
    canvas.alpha_composite(drawing)
    return canvas.convert("L")


def _modes(drawing: Image.Image) -> dict[str, Image.Image]:
    on_white = Image.new("RGBA", drawing.size, "white")
    on_white.alpha_composite(drawing)
    rgb = on_white.convert("RGB")
    grey = rgb.convert("L")
    sixteen = Image.fromarray((np.asarray(grey, dtype=np.uint16) * 257).astype(np.uint16))
    palette_transparent = drawing.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette_transparent.info["transparency"] = 0
    return {
        "RGBA": drawing,
        "RGB": rgb,
        "L": grey,
        "LA": drawing.convert("LA"),
        "1": grey.convert("1"),
        "P": rgb.convert("P"),
        "I;16": sixteen,
        "CMYK": rgb.convert("CMYK"),
        "F": grey.convert("F").point(lambda v: v / 255.0),
    }


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "LA", "1", "P", "I;16", "CMYK", "F"])
def test_every_common_mode_gives_the_same_frame(drawing, mode):
    reference = to_mnist_frame(drawing)
    image = _modes(drawing)[mode]
    assert np.abs(to_mnist_frame(image) - reference).mean() < 0.02


def test_transparent_background_keeps_contrast_for_dark_and_light_ink():
    alpha = np.zeros((50, 50), dtype=np.uint8)
    alpha[10:40, 20:26] = 255
    for ink in (0, 255):
        rgba = np.dstack([np.full((50, 50, 3), ink, dtype=np.uint8), alpha])
        grey = to_grayscale(rgba)
        assert abs(float(grey[25, 23]) - float(grey[2, 2])) > 0.9


def test_arrays_of_every_dtype_are_scaled_to_unit_range():
    base = np.zeros((8, 8))
    base[2:6, 3:5] = 1
    for array in (base.astype(bool), (base * 255).astype(np.uint8), (base * 65535).astype(np.uint16), base.astype(np.float32), base * 255.0):
        grey = to_grayscale(array)
        assert grey.dtype == np.float32 and grey.min() == 0 and grey.max() == pytest.approx(1)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((4, 4, 5)), r"shape \(4, 4, 5\)"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.zeros((0, 4)), "no pixels"),
        (np.zeros((4, 4), dtype=np.complex64), "dtype complex64"),
    ],
)
def test_bad_arrays_are_refused_with_what_was_expected(array, message):
    with pytest.raises(InvalidImageError, match=message):
        to_grayscale(array)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InvalidImageError, match="empty"):
        open_image(path)


def test_text_file_is_refused_as_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    with pytest.raises(InvalidImageError, match="not an image"):
        open_image(path)


def test_truncated_png_is_refused_as_corrupt(drawing):
    data = encode(drawing)
    with pytest.raises(InvalidImageError, match="corrupt or truncated"):
        open_image(data[: len(data) // 2])


def test_decompression_bomb_is_refused_before_decoding():
    bomb = encode(Image.new("L", (10_000, 10_000), 255))  # compresses to a few KB
    with pytest.raises(InvalidImageError, match="megapixels"):
        open_image(bomb)


def test_file_over_the_size_limit_is_refused(tmp_path, drawing):
    path = tmp_path / "big.png"
    path.write_bytes(encode(drawing))
    with pytest.raises(InvalidImageError, match="MB"):
        open_image(path, max_bytes=1000)


def test_animated_gif_gives_its_first_frame(drawing_on_white):
    first = drawing_on_white
    second = Image.new("L", first.size, 128)
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=100, loop=0)
    image = open_image(buffer.getvalue())
    assert np.asarray(image.convert("L")).std() > 10  # the drawing, not the flat second frame


def test_exif_rotation_is_applied(drawing_on_white):
    upright = drawing_on_white
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a phone stores a portrait photo
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image = open_image(encode(stored.convert("RGB"), "JPEG", exif=exif, quality=95))
    assert np.abs(to_mnist_frame(image) - to_mnist_frame(upright)).mean() < 0.03


def test_cmyk_jpeg_and_16_bit_png_are_read(drawing):
    grey = Image.new("RGBA", drawing.size, "white")
    grey.alpha_composite(drawing)
    cmyk = open_image(encode(grey.convert("CMYK"), "JPEG", quality=95))
    sixteen = open_image(encode(Image.fromarray((np.asarray(grey.convert("L"), dtype=np.uint16) * 257)), "PNG"))
    reference = to_mnist_frame(drawing)
    for image in (cmyk, sixteen):
        assert np.abs(to_mnist_frame(image) - reference).mean() < 0.03


def test_a_file_that_fails_to_read_is_refused_with_the_cause(tmp_path, monkeypatch, drawing):
    path = tmp_path / "locked.png"
    drawing.save(path)

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(path), "read_bytes", denied)
    with pytest.raises(InvalidImageError, match="'locked.png' could not be read: Permission denied"):
        open_image(path)
