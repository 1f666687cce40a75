"""Pen trajectories -> the image a sketchpad would send: strokes drawn with a round brush.

:func:`draw_on_canvas` does the same for an MNIST frame: its shape redrawn as hard strokes of a
chosen brush, so MNIST's own test digits can be tried as canvas drawings.

A trajectory is what a tablet or a canvas records while someone writes: a list of strokes (pen down
to pen up), each an ``(n_points, 2)`` array of ``x, y`` positions with ``y`` growing downwards.
:func:`draw_strokes` renders one the way the app's sketchpad does (a round black brush on a
transparent canvas, anti-aliased edges), so that real pen data trains and tests the model on exactly
what the app receives.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from skimage.morphology import skeletonize

__all__ = ["draw_strokes", "hard_strokes", "draw_on_canvas", "SUPERSAMPLE"]

#: Strokes are drawn this many times larger and reduced, which gives them anti-aliased edges as a
#: browser canvas does.
SUPERSAMPLE = 2


def draw_strokes(
    strokes: Sequence[np.ndarray],
    *,
    height: float,
    brush: float,
    canvas: tuple[int, int] = (400, 400),
    centre: tuple[float, float] | None = None,
) -> np.ndarray:
    """Draw a pen trajectory as black strokes on a transparent canvas.

    Parameters
    ----------
    strokes : sequence of ndarray of shape (n_points, 2)
        ``x, y`` positions in any unit, ``y`` growing downwards; one array per stroke.
    height : float
        Height of the drawing on the canvas, pixels (the trajectory is scaled to it, aspect ratio
        kept; a drawing too wide for the canvas is scaled down to fit).
    brush : float
        Brush diameter, pixels.
    canvas : (width, height)
        Canvas size, pixels.
    centre : (x, y), optional
        Where the centre of the drawing's bounding box lands; default the canvas centre. The drawing
        is moved as little as needed to stay on the canvas.

    Returns
    -------
    ndarray of shape (canvas height, canvas width, 4), uint8
        RGBA: black where the brush went, its coverage in the alpha channel, transparent elsewhere.

    Raises
    ------
    ValueError
        No points, a non-positive height or brush, or a stroke not of shape ``(n, 2)``.
    """
    if height <= 0 or brush <= 0:
        raise ValueError(f"height and brush must be positive; got height={height}, brush={brush}.")
    parts = [np.asarray(stroke, dtype=np.float64) for stroke in strokes]
    parts = [p for p in parts if p.size]
    if not parts or any(p.ndim != 2 or p.shape[1] != 2 for p in parts):
        raise ValueError("strokes must be a non-empty sequence of (n_points, 2) arrays of x, y positions.")
    points = np.concatenate(parts)
    low, high = points.min(axis=0), points.max(axis=0)
    extent = np.maximum(high - low, 1e-9)
    width_px, height_px = canvas
    room = np.array([width_px, height_px], dtype=np.float64) - brush - 2
    scale = min(height / extent[1], room[0] / extent[0], room[1] / extent[1])
    size = extent * scale
    wanted = np.array(centre if centre is not None else (width_px / 2, height_px / 2), dtype=np.float64)
    half = size / 2 + brush / 2 + 1
    middle = np.clip(wanted, half, np.array([width_px, height_px]) - half)
    offset = middle - size / 2
    big = Image.new("L", (width_px * SUPERSAMPLE, height_px * SUPERSAMPLE), 0)
    pen = ImageDraw.Draw(big)
    radius = brush * SUPERSAMPLE / 2
    for part in parts:
        xy = ((part - low) * scale + offset) * SUPERSAMPLE
        if len(xy) > 1:
            pen.line([tuple(p) for p in xy], fill=255, width=max(1, round(2 * radius)), joint="curve")
        for x, y in xy[[0, -1]] if len(xy) > 1 else xy:
            pen.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    alpha = np.asarray(big.resize((width_px, height_px), Image.Resampling.BOX))
    rgba = np.zeros((height_px, width_px, 4), dtype=np.uint8)
    rgba[..., 3] = alpha
    return rgba


def hard_strokes(frame: np.ndarray, *, scale: float, brush: float) -> np.ndarray:
    """An MNIST digit enlarged ``scale`` times as hard strokes ``brush`` pixels wide (bool image).

    The digit's own shape is thresholded and its stroke edges moved in or out until the strokes are
    ``brush`` wide (signed distance transform), so loops stay loops, as when a person redraws it;
    when thinning, a pen line along the skeleton keeps every stroke.
    """
    size = max(1, int(round(28 * scale)))
    enlarged = np.asarray(Image.fromarray(np.float32(frame), "F").resize((size, size), Image.Resampling.BILINEAR))
    shape = np.pad(enlarged > 0.4, int(brush) + 2)
    width = shape.sum() / max(1, skeletonize(shape).sum())
    inside = ndimage.distance_transform_edt(shape)
    outside = ndimage.distance_transform_edt(~shape)
    signed = np.where(shape, inside, -outside)
    strokes = signed > (width - brush) / 2.0
    if brush < width:
        # Thinning: keep a pen line along the skeleton too, so no stroke vanishes.
        strokes |= ndimage.distance_transform_edt(~skeletonize(shape)) <= brush / 2.0
    return strokes


def draw_on_canvas(
    frame: np.ndarray,
    *,
    digit_height: int = 300,
    brush: float = 24.0,
    centre: tuple[int, int] = (200, 200),
    canvas: int = 400,
    background: str = "transparent",
) -> Image.Image:
    """An MNIST digit redrawn as hard black strokes, as someone would on the app's sketchpad.

    Parameters
    ----------
    frame : (28, 28) float in [0, 1]
    digit_height : int
        Height of the digit's 20-pixel box on the canvas, pixels.
    brush : float
        Stroke width, pixels.
    centre : (row, col)
        Where the centre of the digit's box lands, moved as little as needed to keep it all on the canvas.
    background : {'transparent', 'white'}
        RGBA with transparent paper, or white RGB.
    """
    ink = hard_strokes(frame, scale=digit_height / 20.0, brush=brush)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    if max(ink.shape) > canvas:
        raise ValueError(f"a digit {ink.shape} does not fit on a {canvas}x{canvas} canvas")
    # Centre the ink's box at `centre`, moved just enough to keep every stroke on the canvas.
    top = int(np.clip(centre[0] - ink.shape[0] // 2, 0, canvas - ink.shape[0]))
    left = int(np.clip(centre[1] - ink.shape[1] // 2, 0, canvas - ink.shape[1]))
    full = np.zeros((canvas, canvas), dtype=bool)
    full[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    if background == "transparent":
        rgba = np.zeros((canvas, canvas, 4), dtype=np.uint8)
        rgba[..., 3] = full * 255
        return Image.fromarray(rgba, "RGBA")
    grey = np.where(full, 0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")
