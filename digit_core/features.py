"""Transformers that go in the model pipeline: deskewing and histograms of oriented gradients.

:class:`GradientDirectionFeatures` is the model's feature: a histogram of oriented gradients in
the form Liu et al. (2003) found best for handwritten digits (signed directions, Gaussian pooling
on a coarse grid, power compression). :class:`HogTransformer` is the classic HOG of Dalal & Triggs,
identical to ``skimage.feature.hog``, as the seed notebook used it.

Both take rows of flattened images, ``X`` of shape ``(n_samples, rows * cols)``, follow the
scikit-learn estimator contract and work on the whole batch at once (no Python loop per image).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .framing import deskew

__all__ = [
    "Deskew",
    "GradientDirectionFeatures",
    "HogTransformer",
    "gradient_direction_features",
    "hog_batch",
    "infer_image_shape",
]

_BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")


def infer_image_shape(n_features: int) -> tuple[int, int]:
    """Shape of the image that a row of ``n_features`` pixels holds.

    A perfect square gives a square image (784 -> (28, 28)); any other length is one row of pixels.
    """
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features else (1, n_features)


class _ImageRowsTransformer(TransformerMixin, BaseEstimator):
    """Shared fit/validation for transformers over flattened images; learns only the image shape."""

    def __init__(self, image_shape=None):
        self.image_shape = image_shape

    def fit(self, X, y=None):
        """Check ``X`` and record the image shape.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images; ``n_features`` must equal ``rows * cols`` of ``image_shape``.
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        shape = infer_image_shape(X.shape[1]) if self.image_shape is None else tuple(self.image_shape)
        if len(shape) != 2 or shape[0] * shape[1] != X.shape[1]:
            raise ValueError(
                f"image_shape={self.image_shape!r} does not match X with {X.shape[1]} features; "
                "expected (rows, cols) with rows * cols == n_features."
            )
        self.image_shape_ = shape
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _images(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return X.reshape(-1, *self.image_shape_)


class Deskew(_ImageRowsTransformer):
    """Deskew flattened images by their moments (see :func:`digit_core.framing.deskew`).

    Parameters
    ----------
    image_shape : (rows, cols), optional
        Default: inferred in ``fit`` (square rows, e.g. 784 -> 28x28).

    Attributes
    ----------
    image_shape_ : (rows, cols)
    n_features_in_ : int
    """

    def transform(self, X):
        """Deskew each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, rows * cols)

        Returns
        -------
        ndarray of shape (n_samples, rows * cols), same float dtype as ``X``
        """
        images = self._images(X)
        return deskew(images).reshape(len(images), -1).astype(images.dtype, copy=False)


class HogTransformer(_ImageRowsTransformer):
    """Histograms of oriented gradients for a batch of flattened images.

    Gives the same features as ``skimage.feature.hog`` (unsigned gradients, magnitude-weighted
    orientation bins averaged over each cell, overlapping normalised blocks), for all rows at once.

    Parameters
    ----------
    orientations : int, default=9
        Number of orientation bins over 0-180 degrees.
    pixels_per_cell : (int, int), default=(8, 8)
    cells_per_block : (int, int), default=(2, 2)
    block_norm : {'L1', 'L1-sqrt', 'L2', 'L2-Hys'}, default='L2-Hys'
    transform_sqrt : bool, default=False
        Take the square root of pixel values first (power-law compression).
    image_shape : (rows, cols), optional
        Default: inferred in ``fit``.

    Attributes
    ----------
    image_shape_ : (rows, cols)
    n_features_in_ : int

    Notes
    -----
    Images smaller than one block are zero-padded at the bottom and right up to one block, so that
    every input has at least one block of features.
    """

    def __init__(
        self,
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(2, 2),
        block_norm="L2-Hys",
        transform_sqrt=False,
        image_shape=None,
    ):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.image_shape = image_shape

    def fit(self, X, y=None):
        """Check parameters and ``X``; record the image shape. See :class:`Deskew`."""
        if not isinstance(self.orientations, (int, np.integer)) or self.orientations < 1:
            raise ValueError(f"orientations must be a positive integer; got {self.orientations!r}.")
        if self.block_norm not in _BLOCK_NORMS:
            raise ValueError(f"block_norm must be one of {_BLOCK_NORMS}; got {self.block_norm!r}.")
        for name in ("pixels_per_cell", "cells_per_block"):
            value = getattr(self, name)
            if len(value) != 2 or min(value) < 1:
                raise ValueError(f"{name} must be two positive integers (rows, cols); got {value!r}.")
        return super().fit(X, y)

    def transform(self, X):
        """HOG features of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, rows * cols)

        Returns
        -------
        ndarray of shape (n_samples, n_blocks_row * n_blocks_col * block_rows * block_cols * orientations)
        """
        return hog_batch(
            self._images(X),
            orientations=self.orientations,
            pixels_per_cell=tuple(self.pixels_per_cell),
            cells_per_block=tuple(self.cells_per_block),
            block_norm=self.block_norm,
            transform_sqrt=self.transform_sqrt,
        )


def hog_batch(
    images: np.ndarray,
    *,
    orientations: int = 9,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (2, 2),
    block_norm: str = "L2-Hys",
    transform_sqrt: bool = False,
) -> np.ndarray:
    """HOG features of a batch of grey images, as ``skimage.feature.hog`` computes for each.

    Parameters
    ----------
    images : ndarray of shape (n_images, rows, cols), float
    orientations, pixels_per_cell, cells_per_block, block_norm, transform_sqrt
        As in ``skimage.feature.hog``.

    Returns
    -------
    ndarray of shape (n_images, n_features), float (float32 input stays float32)
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"hog_batch expects images of shape (n_images, rows, cols); got {images.shape}.")
    options = dict(
        orientations=orientations,
        pixels_per_cell=pixels_per_cell,
        cells_per_block=cells_per_block,
        block_norm=block_norm,
        transform_sqrt=transform_sqrt,
    )
    # Chunks small enough to stay in cache are several times faster than one pass over a big batch.
    if len(images) > _CHUNK:
        return np.concatenate([_hog_chunk(images[i : i + _CHUNK], **options) for i in range(0, len(images), _CHUNK)])
    return _hog_chunk(images, **options)


_CHUNK = 256


def _hog_chunk(images, *, orientations, pixels_per_cell, cells_per_block, block_norm, transform_sqrt):
    dtype = np.float32 if images.dtype == np.float32 else np.float64
    cell_rows, cell_cols = pixels_per_cell
    block_rows, block_cols = cells_per_block
    need_rows, need_cols = cell_rows * block_rows, cell_cols * block_cols
    n_images, rows, cols = images.shape
    if rows < need_rows or cols < need_cols:
        images = np.pad(images, ((0, 0), (0, max(0, need_rows - rows)), (0, max(0, need_cols - cols))))
        n_images, rows, cols = images.shape
    images = images.astype(np.float64)
    if transform_sqrt:
        images = np.sqrt(images)

    # Gradients: central differences, zero on the border (as skimage's _hog_channel_gradient).
    g_row = np.zeros_like(images)
    g_col = np.zeros_like(images)
    g_row[:, 1:-1, :] = images[:, 2:, :] - images[:, :-2, :]
    g_col[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
    magnitude = np.hypot(g_col, g_row)
    orientation = np.rad2deg(np.arctan2(g_row, g_col)) % 180

    # Orientation histograms: each pixel's magnitude into its bin, averaged over the cell.
    n_cells_row, n_cells_col = rows // cell_rows, cols // cell_cols
    bin_width = 180.0 / orientations
    bins = np.minimum((orientation // bin_width).astype(np.intp), orientations - 1)
    used_rows, used_cols = n_cells_row * cell_rows, n_cells_col * cell_cols
    bins = bins[:, :used_rows, :used_cols]
    cell_of_row = (np.arange(used_rows) // cell_rows)[:, None] * n_cells_col
    cell_of_col = (np.arange(used_cols) // cell_cols)[None, :]
    cell_index = (cell_of_row + cell_of_col)[None] + (np.arange(n_images) * n_cells_row * n_cells_col)[:, None, None]
    flat_index = (cell_index * orientations + bins).ravel()
    n_bins = n_images * n_cells_row * n_cells_col * orientations
    histogram = np.bincount(flat_index, weights=magnitude[:, :used_rows, :used_cols].ravel(), minlength=n_bins)
    histogram = histogram.reshape(n_images, n_cells_row, n_cells_col, orientations) / (cell_rows * cell_cols)

    # Blocks: overlapping windows of cells, each normalised on its own.
    n_blocks_row = n_cells_row - block_rows + 1
    n_blocks_col = n_cells_col - block_cols + 1
    windows = np.lib.stride_tricks.sliding_window_view(histogram, (block_rows, block_cols), axis=(1, 2))
    # windows: (n, n_blocks_row, n_blocks_col, orientations, block_rows, block_cols)
    blocks = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n_images, n_blocks_row, n_blocks_col, -1)
    blocks = _normalise_blocks(blocks, block_norm)
    return blocks.reshape(n_images, -1).astype(dtype, copy=False)


def _normalise_blocks(blocks: np.ndarray, method: str, eps: float = 1e-5) -> np.ndarray:
    # Same formulas as skimage.feature._hog._hog_normalize_block, over the last axis.
    if method == "L1":
        return blocks / (np.abs(blocks).sum(axis=-1, keepdims=True) + eps)
    if method == "L1-sqrt":
        return np.sqrt(blocks / (np.abs(blocks).sum(axis=-1, keepdims=True) + eps))
    if method == "L2":
        return blocks / np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + eps**2)
    if method == "L2-Hys":
        out = blocks / np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + eps**2)
        out = np.minimum(out, 0.2)
        return out / np.sqrt((out**2).sum(axis=-1, keepdims=True) + eps**2)
    raise ValueError(f"block_norm must be one of {_BLOCK_NORMS}; got {method!r}.")


class GradientDirectionFeatures(_ImageRowsTransformer):
    """Gradient direction features: a HOG with signed directions and Gaussian pooling.

    Sobel gradients of each image are split between the two nearest of ``n_directions`` directions
    over 360 degrees (weights proportional to angular closeness), each direction plane is pooled by
    a Gaussian of width ``sigma`` centred on a ``grid`` x ``grid`` lattice, and the pooled values are
    raised to ``power``. With the defaults, a 28x28 image gives 8 x 7 x 7 = 392 features.

    Parameters
    ----------
    n_directions : int, default=8
    grid : int, default=7
        Pooling points per side, evenly spaced (every 4 px on a 28 px side).
    sigma : float, default=2.0
        Gaussian pooling width, pixels (half the grid spacing, so neighbouring points overlap).
    power : float, default=0.5
        Variance-stabilising compression of the pooled values.
    image_shape : (rows, cols), optional
        Default: inferred in ``fit``.

    Attributes
    ----------
    image_shape_ : (rows, cols)
    n_features_in_ : int

    References
    ----------
    C.-L. Liu, K. Nakashima, H. Sako, H. Fujisawa, "Handwritten digit recognition: benchmarking of
    state-of-the-art techniques", Pattern Recognition 36 (2003) 2271-2285.
    """

    def __init__(self, n_directions=8, grid=7, sigma=2.0, power=0.5, image_shape=None):
        self.n_directions = n_directions
        self.grid = grid
        self.sigma = sigma
        self.power = power
        self.image_shape = image_shape

    def fit(self, X, y=None):
        """Check parameters and ``X``; record the image shape. See :class:`Deskew`."""
        for name in ("n_directions", "grid"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        if not self.sigma > 0 or not self.power > 0:
            raise ValueError(f"sigma and power must be positive; got sigma={self.sigma!r}, power={self.power!r}.")
        return super().fit(X, y)

    def transform(self, X):
        """Gradient direction features of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, rows * cols)

        Returns
        -------
        ndarray of shape (n_samples, n_directions * grid * grid), same float dtype as ``X``
        """
        images = self._images(X)
        features = gradient_direction_features(
            images, n_directions=self.n_directions, grid=self.grid, sigma=self.sigma, power=self.power
        )
        return features.astype(images.dtype, copy=False)


def gradient_direction_features(
    images: np.ndarray, *, n_directions: int = 8, grid: int = 7, sigma: float = 2.0, power: float = 0.5
) -> np.ndarray:
    """Gradient direction features of a batch of images (see :class:`GradientDirectionFeatures`).

    Parameters
    ----------
    images : ndarray of shape (n_images, rows, cols), float

    Returns
    -------
    ndarray of shape (n_images, n_directions * grid * grid), float32
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (n_images, rows, cols); got {images.shape}.")
    n_images, rows, cols = images.shape
    pool_rows = _gaussian_pooling_matrix(rows, grid, sigma)
    pool_cols = _gaussian_pooling_matrix(cols, grid, sigma)
    out = np.empty((n_images, n_directions, grid, grid), dtype=np.float32)
    for start in range(0, n_images, _CHUNK):
        chunk = images[start : start + _CHUNK]
        planes = _direction_planes(chunk, n_directions)
        out[start : start + _CHUNK] = np.einsum("ir,ndrc,jc->ndij", pool_rows, planes, pool_cols, optimize=True)
    np.maximum(out, 0.0, out=out)
    return np.power(out, power, out=out).reshape(n_images, -1)


def _direction_planes(images: np.ndarray, n_directions: int) -> np.ndarray:
    # Sobel gradients of each image (zero outside it), by slicing so that images never mix.
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    d_row = padded[:, 2:, :] - padded[:, :-2, :]
    d_col = padded[:, :, 2:] - padded[:, :, :-2]
    g_row = (d_row[:, :, :-2] + 2 * d_row[:, :, 1:-1] + d_row[:, :, 2:]) / 4
    g_col = (d_col[:, :-2, :] + 2 * d_col[:, 1:-1, :] + d_col[:, 2:, :]) / 4
    magnitude = np.hypot(g_row, g_col)
    # Each gradient is shared between the two nearest directions, in proportion to its closeness.
    position = (np.arctan2(g_row, g_col) % (2 * np.pi)) * (n_directions / (2 * np.pi))
    lower = np.floor(position)
    upper_weight = (position - lower) * magnitude
    lower_weight = magnitude - upper_weight
    lower = lower.astype(np.intp) % n_directions
    upper = (lower + 1) % n_directions
    planes = np.empty((len(images), n_directions, *images.shape[1:]), dtype=np.float32)
    for direction in range(n_directions):
        planes[:, direction] = np.where(lower == direction, lower_weight, 0.0) + np.where(
            upper == direction, upper_weight, 0.0
        )
    return planes


def _gaussian_pooling_matrix(size: int, grid: int, sigma: float) -> np.ndarray:
    # Row i holds the Gaussian weights of pooling point i over the `size` pixels (zero beyond the image).
    step = size / grid
    centres = np.arange(grid) * step + step / 2 - 0.5
    offsets = np.arange(size)[None, :] - centres[:, None]
    weights = np.exp(-0.5 * (offsets / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    return weights.astype(np.float32)
