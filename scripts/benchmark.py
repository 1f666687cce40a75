"""Measure speed and memory; print the figures as JSON.

    python scripts/benchmark.py --mnist ../shared/mnist            # model, preprocessing, scans
    python scripts/benchmark.py --mnist ../shared/mnist --app      # also the app under load

Figures: single-image latency (framing + model) p50/p99 over 1,000 test images, batch throughput
on 10,000, model load time, peak memory; the seed notebook's per-image loops for deskew +
augmentation + HOG against ours on the same 60,000 training images; reading a 12 MP photo; and with
--app, 20 concurrent clients x 25 requests against the real server on 127.0.0.1 and its cold start.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy import ndimage

from digit_core import config
from digit_core.augment import AugmentationPlan, augment
from digit_core.data import load_mnist
from digit_core.framing import deskew, to_mnist_frame
from digit_core.inference import predict_proba
from digit_core.persistence import load_model
from digit_core.reading import read_digits

ROOT = Path(__file__).resolve().parent.parent

#: The seed notebook's augmentation: 4 one-pixel shifts, 4 rotations, 2 zooms (x11 rows).
SEED_PLAN = AugmentationPlan(
    shifts=((0, 1), (0, -1), (1, 0), (-1, 0)), rotations=(-8.0, -4.0, 4.0, 8.0), zooms=(0.9, 1.1)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmark.py", description="Measure latency, throughput, memory and preprocessing speed.")
    parser.add_argument("--model", type=Path, default=config.STARTER_MODEL_PATH, help="model file (default: the starter model)")
    parser.add_argument("--mnist", type=Path, default=config.DEFAULT_MNIST_DIR, help="folder of the MNIST IDX files (default: OpenML)")
    parser.add_argument("--single", type=int, default=1000, help="images for single-image latency (default 1000)")
    parser.add_argument("--batch", type=int, default=10_000, help="images for batch throughput (default 10000)")
    parser.add_argument("--train", type=int, default=60_000, help="training images for the preprocessing comparison (default 60000)")
    parser.add_argument("--app", action="store_true", help="also benchmark the app: cold start and concurrent clients")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients with --app (default 20)")
    parser.add_argument("--requests", type=int, default=25, help="requests per client with --app (default 25)")
    return parser


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def single_image_latency(model, images) -> dict:
    """Framing + model, one image at a time, as the app serves a request."""
    for image in images[:20]:  # warm caches
        predict_proba(model, to_mnist_frame(image)[None])
    seconds = []
    for image in images:
        start = time.perf_counter()
        predict_proba(model, to_mnist_frame(image)[None])
        seconds.append(time.perf_counter() - start)
    return {"n": len(images), **_percentiles(seconds)}


def canvases(frames: np.ndarray) -> list[np.ndarray]:
    """Each frame drawn 10x larger, dark on white, on a 400x400 canvas (what the Draw tab sends)."""
    out = []
    for frame in frames:
        canvas = np.zeros((400, 400), dtype=np.float32)
        canvas[60:340, 60:340] = np.kron(frame, np.ones((10, 10), dtype=np.float32))
        out.append(1.0 - canvas)
    return out


def batch_throughput(model, frames: np.ndarray) -> dict:
    start = time.perf_counter()
    predict_proba(model, frames)
    seconds = time.perf_counter() - start
    return {"n": len(frames), "seconds": round(seconds, 2), "images_per_second": round(len(frames) / seconds)}


# --- the seed's HOG, batched: what "ours" runs in the preprocessing comparison ---------------------

_BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")


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


# --- the seed notebook's procedure, per image, as the baseline ------------------------------------


def _seed_deskew(image: np.ndarray) -> np.ndarray:
    img = image.reshape(28, 28)
    y, x = np.mgrid[:28, :28]
    mu = ndimage.center_of_mass(img)
    if np.isnan(mu).any():
        return img.flatten()
    mu11 = np.sum((x - mu[1]) * (y - mu[0]) * img)
    mu02 = np.sum((y - mu[0]) ** 2 * img)
    if abs(mu02) < 1e-2:
        return img.flatten()
    matrix = np.array([[1, 0], [mu11 / mu02, 1]])
    center = np.array([14, 14])
    offset = center - np.dot(matrix, center)
    return ndimage.affine_transform(img, matrix, offset=offset, order=1, mode="constant", cval=0).flatten()


def _seed_zoom(image: np.ndarray, factor: float) -> np.ndarray:
    rescaled = ndimage.zoom(image.reshape(28, 28), factor)
    if factor > 1.0:
        start = int((rescaled.shape[0] - 28) / 2)
        final = rescaled[start : start + 28, start : start + 28]
    else:
        pad = int((28 - rescaled.shape[0]) / 2)
        final = np.pad(rescaled, ((pad, 28 - rescaled.shape[0] - pad), (pad, 28 - rescaled.shape[1] - pad)))
    return final.flatten()


def seed_preprocessing(images: np.ndarray) -> float:
    """Seconds for the seed's per-image loops: deskew, x11 augmentation, skimage HOG of every row."""
    from skimage.feature import hog

    start = time.perf_counter()
    flat = images.reshape(len(images), -1)
    deskewed = np.array([_seed_deskew(image) for image in flat])
    rows = list(deskewed)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        rows.extend(ndimage.shift(image.reshape(28, 28), [dy, dx], cval=0, mode="constant").flatten() for image in deskewed)
    for angle in (-8, -4, 4, 8):
        rows.extend(ndimage.rotate(image.reshape(28, 28), angle, reshape=False, cval=0, mode="constant").flatten() for image in deskewed)
    for factor in (0.9, 1.1):
        rows.extend(_seed_zoom(image, factor) for image in deskewed)
    augmented = np.array(rows)
    np.array([hog(row.reshape(28, 28), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2)) for row in augmented])
    return time.perf_counter() - start


def our_preprocessing(images: np.ndarray) -> float:
    """Seconds for the same work, batched: deskew, x11 augmentation, batch HOG, in parallel."""
    from joblib import Parallel, delayed

    start = time.perf_counter()
    chunks = np.array_split(images, 8)
    deskewed = np.concatenate(Parallel(n_jobs=-1)(delayed(deskew)(chunk) for chunk in chunks))
    augmented, _ = augment(deskewed, np.zeros(len(deskewed)), SEED_PLAN, n_jobs=-1)
    Parallel(n_jobs=-1)(delayed(hog_batch)(chunk) for chunk in np.array_split(augmented, 16))
    return time.perf_counter() - start


def preprocessing_comparison(images: np.ndarray) -> dict:
    ours = our_preprocessing(images)
    seed = seed_preprocessing(images)
    return {"n_images": len(images), "rows_after_augmentation": len(images) * SEED_PLAN.copies,
            "seed_seconds": round(seed, 1), "ours_seconds": round(ours, 1), "speedup": round(seed / ours, 1)}


def photo_reading(model, images: np.ndarray) -> dict:
    """Reading a 12 MP photo of a page with a handwritten number."""
    rng = np.random.default_rng(0)
    page = np.full((3000, 4000), 0.9, dtype=np.float32)
    page += np.linspace(0, -0.2, 4000)[None, :]  # a shadow across the page
    for k, image in enumerate(images[:5]):
        digit = np.kron(image, np.ones((12, 12), dtype=np.float32))
        top, left = 1300 + int(rng.integers(-30, 30)), 1200 + k * 330
        page[top : top + 336, left : left + 336] -= 0.75 * digit
    page = np.clip(page + rng.normal(0, 0.02, page.shape).astype(np.float32), 0, 1)
    read_digits(model, page[1300:1700, 1200:1600])  # warm up
    start = time.perf_counter()
    reading = read_digits(model, page)
    seconds = time.perf_counter() - start
    return {"megapixels": 12.0, "seconds": round(seconds, 3), "digits": reading.text}


# --- the app under load ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_over_http(http, url: str, sample: Path) -> dict:
    """One request as a plain HTTP client makes it: upload the file, call /predict, read the result."""
    with open(sample, "rb") as handle:
        upload = http.post(f"{url}gradio_api/upload", files={"files": (sample.name, handle, "image/png")})
    upload.raise_for_status()
    payload = {"data": [{"path": upload.json()[0], "meta": {"_type": "gradio.FileData"}}]}
    call = http.post(f"{url}gradio_api/call/predict", json=payload)
    call.raise_for_status()
    result = http.get(f"{url}gradio_api/call/predict/{call.json()['event_id']}")
    result.raise_for_status()
    if "event: complete" not in result.text:
        raise RuntimeError(result.text[:200])
    return json.loads(result.text.split("data:", 1)[1])[0]


def app_benchmark(sample: Path, *, clients: int, requests: int) -> dict:
    """Cold start of `python app.py`, then `clients` threads x `requests` round trips over HTTP.

    The clients speak Gradio's HTTP API directly (as curl would): the gradio_client library spends
    about four times the server's CPU per request, which on a shared 2-core machine would measure the
    client instead of the app.
    """
    import httpx

    port = _free_port()
    environment = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                   "DIGIT_FLAG_DIR": tempfile.mkdtemp(prefix="bench-flags-")}
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(timeout=30) as http:
            while True:
                try:
                    answer = _read_over_http(http, url, sample)
                    break
                except (httpx.HTTPError, RuntimeError):
                    if time.perf_counter() - started > 120 or server.poll() is not None:
                        raise RuntimeError("the app did not answer within 120 s") from None
                    time.sleep(0.05)
        cold_start = time.perf_counter() - started

        def run(_: int) -> tuple[list[float], int]:
            times, failed = [], 0
            with httpx.Client(timeout=60) as http:
                for _ in range(requests):
                    start = time.perf_counter()
                    try:
                        _read_over_http(http, url, sample)
                        times.append(time.perf_counter() - start)
                    except (httpx.HTTPError, RuntimeError, KeyError, ValueError):
                        failed += 1
            return times, failed

        round_trips: list[float] = []
        errors = 0
        load_start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            for times, failed in pool.map(run, range(clients)):
                round_trips.extend(times)
                errors += failed
        wall = time.perf_counter() - load_start
        return {"cold_start_seconds": round(cold_start, 2), "first_answer": answer["label"], "clients": clients,
                "requests_each": requests, "errors": errors, **_percentiles(round_trips),
                "requests_per_second": round(len(round_trips) / wall, 1)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    test = load_mnist("test", folder=args.mnist)
    raw_test = np.round(test.images * 255).astype(np.uint8)  # as image files hold them
    results: dict = {"model": str(args.model), "model_megabytes": round(args.model.stat().st_size / 1e6, 2)}
    if args.app:
        # First, while this process is small and the machine quiet: the app runs beside it.
        from PIL import Image

        sample = Path(tempfile.mkdtemp()) / "seven.png"
        Image.fromarray(255 - raw_test[0]).resize((280, 280)).save(sample)
        results["app"] = app_benchmark(sample, clients=args.clients, requests=args.requests)
    start = time.perf_counter()
    model = load_model(args.model)
    results["model_load_seconds"] = round(time.perf_counter() - start, 3)
    results["single_image_latency"] = single_image_latency(model, raw_test[: args.single])
    results["canvas_400px_latency"] = single_image_latency(model, canvases(test.images[: min(args.single, 300)]))
    results["batch_throughput"] = batch_throughput(model, test.images[: args.batch])
    results["photo_12mp"] = photo_reading(model, test.images)
    train = load_mnist("train", folder=args.mnist)
    results["preprocessing_vs_seed"] = preprocessing_comparison(train.images[: args.train])
    results["peak_memory_megabytes"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
