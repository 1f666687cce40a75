"""Making test images from real MNIST digits: canvas drawings, paper scans and numbers.

Every picture the tests use is made here from ``../shared/mnist`` digits, so that what a test reads
has a known label.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from digit_core.strokes import draw_on_canvas, hard_strokes  # noqa: F401  (the tests' canvas drawings)


def paper_scan(
    frame: np.ndarray, *, size: int = 120, rng: np.random.Generator, ink: float = 0.15, noise: float = 0.03
) -> np.ndarray:
    """An MNIST digit as dark ink on uneven, noisy paper: ``(size, size)`` float in [0, 1]."""
    digit = np.asarray(Image.fromarray(np.float32(frame), "F").resize((size, size), Image.Resampling.BICUBIC))
    return _on_paper(np.clip(digit, 0, 1), rng=rng, ink=ink, noise=noise)


def _on_paper(coverage: np.ndarray, *, rng: np.random.Generator, ink: float, noise: float) -> np.ndarray:
    rows, cols = coverage.shape
    y, x = np.mgrid[0:rows, 0:cols]
    # Paper tone: a shadow falling across the page, from 0.95 down to about 0.7.
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * x / cols + np.sin(angle) * y / rows + 1) / 2
    paper = 0.95 - 0.25 * ramp
    page = paper * (1 - coverage) + ink * coverage
    page = page + rng.normal(0, noise, size=page.shape)
    return np.clip(page, 0, 1).astype(np.float32)


def number_strip(
    frames: list[np.ndarray], *, rng: np.random.Generator, height: int = 64, ink: float = 0.15, noise: float = 0.03
) -> np.ndarray:
    """Several MNIST digits written side by side, on uneven noisy paper.

    Like a number written by hand: each digit's baseline wanders by up to 15% of the digit height and
    the gaps between strokes vary from 3% to 40% of a digit's height (touching digits are tested apart).

    Parameters
    ----------
    height : int
        The digits' 20 px MNIST box is drawn ``height / 2`` pixels tall; the strip is ``height`` tall.

    Returns ``(H, W)`` float in [0, 1]: dark ink on light paper.
    """
    scale = height / 40.0
    size = int(round(28 * scale))
    digit_height = 20 * scale
    pieces = []
    for frame in frames:
        digit = np.asarray(Image.fromarray(np.float32(frame), "F").resize((size, size), Image.Resampling.BICUBIC)).clip(0, 1)
        cols = np.flatnonzero(digit.max(axis=0) > 0.2)  # tight columns: gaps are between strokes
        pieces.append(digit[:, cols[0] : cols[-1] + 1])
    width = sum(p.shape[1] for p in pieces) + int(0.4 * digit_height) * len(pieces) + 2 * size
    coverage = np.zeros((height + size, width), dtype=np.float32)
    x = size // 2
    top_base = (coverage.shape[0] - size) // 2
    for piece in pieces:
        top = top_base + int(rng.integers(-0.15 * digit_height, 0.15 * digit_height + 1))
        region = coverage[top : top + size, x : x + piece.shape[1]]
        np.maximum(region, piece[: region.shape[0], : region.shape[1]], out=region)
        x += piece.shape[1] + int(rng.integers(0.03 * digit_height, 0.4 * digit_height + 1))
    coverage = coverage[:, : x + size // 2]
    return _on_paper(coverage, rng=rng, ink=ink, noise=noise)


def encode(array_or_image, fmt: str = "PNG", **options) -> bytes:
    """Encode an image (PIL or float array in [0, 1]) to file bytes."""
    image = array_or_image
    if not isinstance(image, Image.Image):
        image = Image.fromarray(np.uint8(np.clip(array_or_image, 0, 1) * 255))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def page_ink(drawing, *, seq: int, side: int = 256) -> str:
    """What the page's hook (``web.assets.PAGE_HEAD``) sends for a canvas drawing: the ink's box with a
    margin of 30% of its size, on white, reduced to at most ``side`` pixels, as a PNG data URL in
    ``{"seq": seq, "png": ...}`` (``png`` null for an empty canvas)."""
    import base64
    import json

    picture = drawing if isinstance(drawing, Image.Image) else Image.fromarray(np.asarray(drawing))
    shown = Image.new("RGBA", picture.size, "white")
    shown.alpha_composite(picture.convert("RGBA"))
    shown = shown.convert("RGB")
    rows, cols = np.nonzero(np.asarray(shown, dtype=np.int32).sum(axis=2) < 384)
    if rows.size == 0:
        return json.dumps({"seq": seq, "png": None})
    margin = round(0.3 * max(cols.max() - cols.min(), rows.max() - rows.min())) + 2
    box = (cols.min() - margin, rows.min() - margin, cols.max() + margin + 1, rows.max() + margin + 1)
    crop = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), "white")  # white beyond the canvas
    crop.paste(shown, (-box[0], -box[1]))
    crop.thumbnail((side, side), Image.Resampling.BILINEAR)
    return json.dumps({"seq": seq, "png": "data:image/png;base64," + base64.b64encode(encode(crop)).decode()})
