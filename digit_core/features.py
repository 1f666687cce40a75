"""Transformers that go in the model pipeline: deskewing and gradient direction features.

:class:`GradientDirectionFeatures` is the model's feature: a histogram of oriented gradients in
the form Liu et al. (2003) found best for handwritten digits (signed directions, Gaussian pooling
on a coarse grid, power compression). (The seed notebook's classic HOG, kept only to time the seed's
procedure, lives in ``scripts/benchmark.py``.)

Both transformers take rows of flattened images, ``X`` of shape ``(n_samples, rows * cols)``, follow the
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
    "gradient_direction_features",
    "infer_image_shape",
]

#: Images per chunk of a batch: chunks small enough to stay in cache are several times faster.
_CHUNK = 256


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
