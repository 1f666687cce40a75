"""Decoding image files and turning any image into one grey channel.

``open_image`` reads a file safely (size limits, decompression bombs, the first frame of an
animation, EXIF rotation); ``to_grayscale`` turns a PIL image or an array of any common mode into a
float32 ``(H, W)`` array in [0, 1], compositing transparency onto a background that contrasts with
the ink.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .config import MAX_IMAGE_PIXELS, MAX_UPLOAD_BYTES
from .errors import InvalidImageError

__all__ = ["open_image", "shrink", "to_grayscale", "ACCEPTED_FORMATS"]

#: What people may upload, as named in error messages.
ACCEPTED_FORMATS = "PNG, JPEG, GIF, BMP, TIFF or WebP"

# ITU-R BT.601 luma weights, the same that PIL uses for "L".
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def open_image(
    source: str | Path | bytes,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> Image.Image:
    """Read an image file fully into memory, safely.

    Parameters
    ----------
    source : str, Path or bytes
        A file path, or the file's bytes.
    max_bytes : int
        Larger files are refused before decoding.
    max_pixels : int
        Images with more pixels are refused (decompression bombs).

    Returns
    -------
    PIL.Image.Image
        The first frame, loaded, rotated upright according to its EXIF orientation.

    Raises
    ------
    InvalidImageError
        Missing, empty, too large, not an image, or truncated.
    """
    name = "the upload" if isinstance(source, bytes) else f"'{Path(source).name}'"
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidImageError(f"{name} does not exist or is not a file.")
        size = path.stat().st_size
        if size > max_bytes:
            raise InvalidImageError(
                f"{name} is {size / 1e6:.1f} MB; images up to {max_bytes / 1e6:.0f} MB are accepted."
            )
        try:
            data = path.read_bytes()
        except OSError as exc:  # permission denied, an I/O error on the disk, ...
            raise InvalidImageError(f"{name} could not be read: {exc.strerror or exc}.") from exc
    if len(data) == 0:
        raise InvalidImageError(f"{name} is empty (0 bytes); upload a {ACCEPTED_FORMATS} image.")
    if len(data) > max_bytes:
        raise InvalidImageError(
            f"{name} is {len(data) / 1e6:.1f} MB; images up to {max_bytes / 1e6:.0f} MB are accepted."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise InvalidImageError(
                    f"{name} is {width}x{height} pixels; images up to "
                    f"{max_pixels / 1e6:.0f} megapixels are accepted."
                )
            image.seek(0)  # animated GIF/WebP/PNG: the first frame
            image.load()
            image = ImageOps.exif_transpose(image)
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(
            f"{name} has too many pixels to decode safely; images up to {max_pixels / 1e6:.0f} megapixels are accepted."
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidImageError(f"{name} is not an image; upload a {ACCEPTED_FORMATS} file.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageError(f"{name} is corrupt or truncated and could not be decoded ({exc}).") from exc
    return image


def shrink(image: Image.Image, longest: int) -> tuple[Image.Image, int]:
    """A large image reduced by a whole factor, by averaging blocks of pixels, before anything else
    touches it: its longer side stays at least ``longest`` (and under twice that).

    A 39 MP photo becomes a few megapixels of 8-bit pixels instead of 600 MB of floats.

    Returns
    -------
    image : PIL.Image.Image
        The same object when no reduction applies (small images, or modes PIL cannot reduce).
    factor : int
        How many original pixels each side of a new pixel covers (1: unchanged).
    """
    factor = max(image.size) // max(1, longest)
    if factor < 2:
        return image, 1
    image = _plain_mode(image)
    if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        return image, 1
    return image.reduce(factor), factor


def to_grayscale(image: Image.Image | np.ndarray) -> np.ndarray:
    """One grey channel in [0, 1] from an image of any common mode.

    Parameters
    ----------
    image : PIL.Image.Image or ndarray
        A PIL image of mode 1, L, LA, P (with or without transparency), RGB, RGBA, CMYK, I;16 or F,
        or an array of shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 2)`` (grey + alpha), ``(H, W, 3)``
        or ``(H, W, 4)`` with dtype bool, uint8, uint16 or float (floats are taken to be in [0, 1]).

    Returns
    -------
    ndarray of shape (H, W), float32, values in [0, 1]
        Luminance; transparent pixels are composited onto white when the opaque pixels are dark,
        and onto black when they are light, so a drawing on a transparent canvas keeps its contrast.

    Raises
    ------
    InvalidImageError
        For an array of another shape or dtype, an empty image, or NaN values.
    """
    array = _pil_to_array(image) if isinstance(image, Image.Image) else np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise InvalidImageError(
            f"image array has shape {array.shape}; expected (H, W) or (H, W, C) with C in 1, 2, 3, 4."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidImageError(f"image has no pixels (shape {array.shape}).")
    values = _to_unit_float(array)
    if values.ndim == 2:
        return values
    channels = values.shape[2]
    colour = values[:, :, :3] if channels >= 3 else values[:, :, :1]
    luminance = colour @ _LUMA if channels >= 3 else colour[:, :, 0]
    if channels in (2, 4):
        alpha = values[:, :, -1]
        luminance = _composite(luminance, alpha)
    return np.ascontiguousarray(luminance, dtype=np.float32)


def _plain_mode(image: Image.Image) -> Image.Image:
    # Palette, bilevel, premultiplied and other colour spaces -> L, LA, RGB or RGBA; 16- and 32-bit
    # grey as they are.
    mode = image.mode
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("PA", "RGBa"):
        return image.convert("RGBA")
    if mode == "La":
        return image.convert("LA")
    if mode == "1":
        return image.convert("L")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    return image


def _pil_to_array(image: Image.Image) -> np.ndarray:
    image = _plain_mode(image)
    if image.mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if image.mode == "I":
        array = np.asarray(image)
        return array.astype(np.uint16) if array.max(initial=0) > 255 else array.astype(np.uint8)
    return np.asarray(image)


def _to_unit_float(array: np.ndarray) -> np.ndarray:
    if array.dtype == bool:
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if np.issubdtype(array.dtype, np.integer):
        top = 255.0 if array.max(initial=0) <= 255 else 65535.0
        return np.clip(array.astype(np.float32) / top, 0.0, 1.0)
    if np.issubdtype(array.dtype, np.floating):
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise InvalidImageError("image array holds NaN or infinite values; expected finite values in [0, 1].")
        if values.max(initial=0.0) > 1.0 + 1e-6:
            # Floats on a 0-255 scale are common (e.g. MNIST rows); accept them.
            values = values / (255.0 if values.max() <= 255.0 else values.max())
        return np.clip(values, 0.0, 1.0)
    raise InvalidImageError(f"image array has dtype {array.dtype}; expected bool, uint8, uint16 or float.")


def _composite(luminance: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    if alpha.min() >= 1.0:
        return luminance
    opaque = alpha > 0.5
    if not opaque.any():
        # Fully transparent: nothing drawn. Return a uniform page; framing reports "no digit".
        return np.ones_like(luminance)
    ink_is_dark = float(np.mean(luminance[opaque])) < 0.5
    background = 1.0 if ink_is_dark else 0.0
    return alpha * luminance + (1.0 - alpha) * background
