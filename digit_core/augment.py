"""Training-set augmentation: shifted, rotated, zoomed, elastically distorted, re-inked and
low-resolution scanned copies, and mirrored styles of chosen digits.

Every transform works on a whole batch of frames at once (affine maps as one sparse matrix product,
elastic distortion as one ``map_coordinates`` call per chunk) and chunks run in parallel with joblib.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from scipy import ndimage
from skimage.morphology import skeletonize

from .errors import NoDigitFoundError
from .framing import frame_from_ink, resize, to_mnist_frame

__all__ = [
    "AugmentationPlan",
    "augment",
    "affine_batch",
    "bar_sevens",
    "flag_ones",
    "slash_zeros",
    "elastic_batch",
    "restroke_batch",
    "redraw_batch",
    "scan_batch",
    "binary_scans",
]

_CHUNK = 4096


@dataclass(frozen=True)
class AugmentationPlan:
    """Which copies of each frame to add.

    Attributes
    ----------
    shifts : tuple of (rows, cols)
        Whole-frame translations in pixels.
    rotations : tuple of float
        Rotations in degrees about the frame centre (positive: counter-clockwise).
    zooms : tuple of float
        Scale factors about the frame centre.
    elastic : int
        Number of elastically distorted copies (Simard et al. 2003).
    elastic_alpha, elastic_sigma : float
        Largest displacement (pixels) and smoothness (Gaussian sigma, pixels) of the distortion.
    strokes : tuple of int
        Stroke-width changes: +1 thickens by one pixel (grey dilation), -1 thins (grey erosion).
    redrawn : tuple of float
        Copies redrawn with a round pen of each width (pixels in the frame) along the digit's
        skeleton: the hard, even strokes of a drawing on a canvas, so the model knows that style.
    mirrored : tuple of int
        Digits whose left-right mirror image is a way people write the same digit: the mirror of a
        9 is the 9 written from the foot up, its loop closing on the left (``ρ``), common on
        Latin American cheques and rare in MNIST. Mirrored frames of these digits join the set
        before the other transforms, which then apply to them too.
    barred_sevens : bool
        Add a copy of every 7 with a short bar across its stem, as most of Europe and Latin
        America write it (MNIST's 7s hardly have one); also before the other transforms.
    flagged_ones : bool
        Add a copy of every 1 with a long flag from its top down to the left, and half of them with
        a foot, as the same hands write a 1 (MNIST's 1s are mostly a bare stroke); also before the
        other transforms.
    scanned : tuple of int
        Copies scanned at low resolution, one per box side in pixels (:func:`scan_batch`): the
        digit's ink box stretched to fill a ``side x side`` box, binarised, enlarged and framed as
        the app frames such an upload, as binary scan sets are made (Semeion: 16x16).
    scanned_aspect : bool
        Scan copies keep the digit's aspect ratio (its longer side fills the box, as USPS does)
        instead of stretching it to fill the box both ways.
    """

    shifts: tuple[tuple[int, int], ...] = ()
    rotations: tuple[float, ...] = ()
    zooms: tuple[float, ...] = ()
    elastic: int = 0
    elastic_alpha: float = 2.5
    elastic_sigma: float = 4.0
    strokes: tuple[int, ...] = ()
    redrawn: tuple[float, ...] = ()
    mirrored: tuple[int, ...] = ()
    barred_sevens: bool = False
    flagged_ones: bool = False
    scanned: tuple[int, ...] = ()
    scanned_aspect: bool = False

    @property
    def copies(self) -> int:
        """How many rows each frame becomes (itself included; a frame of a digit in ``mirrored``, or a
        7 with ``barred_sevens``, becomes twice as many)."""
        return (
            1
            + len(self.shifts)
            + len(self.rotations)
            + len(self.zooms)
            + self.elastic
            + len(self.strokes)
            + len(self.redrawn)
            + len(self.scanned)
        )


def augment(
    frames: np.ndarray,
    labels: np.ndarray,
    plan: AugmentationPlan,
    *,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The frames followed by every copy the plan asks for.

    Parameters
    ----------
    frames : ndarray of shape (n, rows, cols), float, values in [0, 1]
    labels : ndarray of shape (n,)
    plan : AugmentationPlan
    random_state : int
        Seed for the elastic distortions.
    n_jobs : int, optional
        Parallel workers (joblib); ``None`` means 1, ``-1`` all cores.

    Returns
    -------
    frames : ndarray of shape (m * plan.copies, rows, cols), float32
    labels : ndarray of shape (m * plan.copies,)
        ``m`` is ``n`` plus the mirror images of the digits in ``plan.mirrored``, the barred
        copies of the 7s (``plan.barred_sevens``) and the flagged copies of the 1s
        (``plan.flagged_ones``), which follow the frames in that order. Block ``k`` of ``m`` rows is the ``k``-th transform of every one of them, in the
        order original, shifts, rotations, zooms, elastic, strokes, redrawn, scanned.
    """
    frames = np.asarray(frames, dtype=np.float32)
    labels = np.asarray(labels)
    if frames.ndim != 3 or len(frames) != len(labels):
        raise ValueError(
            f"augment expects frames (n, rows, cols) and labels (n,); got {frames.shape} and {labels.shape}."
        )
    if plan.mirrored:
        chosen = np.isin(labels, plan.mirrored)
        frames = np.concatenate([frames, frames[chosen][:, :, ::-1]])
        labels = np.concatenate([labels, labels[chosen]])
    if plan.barred_sevens:
        sevens = frames[labels == 7]
        frames = np.concatenate([frames, bar_sevens(sevens)])
        labels = np.concatenate([labels, np.full(len(sevens), 7, dtype=labels.dtype)])
    if plan.flagged_ones:
        ones = flag_ones(frames[labels == 1], random_state=random_state)
        frames = np.concatenate([frames, ones])
        labels = np.concatenate([labels, np.full(len(ones), 1, dtype=labels.dtype)])
    jobs = []
    for d_row, d_col in plan.shifts:
        jobs.append(("affine", dict(matrix=np.eye(2), shift=(d_row, d_col))))
    for degrees in plan.rotations:
        angle = np.deg2rad(degrees)
        rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
        jobs.append(("affine", dict(matrix=rotation, shift=(0, 0))))
    for factor in plan.zooms:
        jobs.append(("affine", dict(matrix=np.eye(2) / factor, shift=(0, 0))))
    for copy in range(plan.elastic):
        jobs.append(("elastic", dict(alpha=plan.elastic_alpha, sigma=plan.elastic_sigma, seed=(random_state, copy))))
    for change in plan.strokes:
        jobs.append(("strokes", dict(change=change)))
    for width in plan.redrawn:
        jobs.append(("redrawn", dict(width=width)))
    for side in plan.scanned:
        jobs.append(("scanned", dict(side=side, stretch=not plan.scanned_aspect)))

    chunks = [slice(i, i + _CHUNK) for i in range(0, len(frames), _CHUNK)]
    tasks = [delayed(_run)(kind, frames[chunk], options, chunk.start) for kind, options in jobs for chunk in chunks]
    results = Parallel(n_jobs=n_jobs)(tasks) if tasks else []
    out = [frames] + results
    return np.concatenate(out).astype(np.float32, copy=False), np.tile(labels, plan.copies)


def _run(kind: str, frames: np.ndarray, options: dict, start: int) -> np.ndarray:
    if kind == "affine":
        return affine_batch(frames, options["matrix"], shift=options["shift"])
    if kind == "elastic":
        seed = np.random.SeedSequence([*options["seed"], start])
        return elastic_batch(frames, alpha=options["alpha"], sigma=options["sigma"], rng=np.random.default_rng(seed))
    if kind == "strokes":
        return restroke_batch(frames, options["change"])
    if kind == "scanned":
        return scan_batch(frames, side=options["side"], stretch=options["stretch"])
    return redraw_batch(frames, width=options["width"])


def bar_sevens(frames: np.ndarray) -> np.ndarray:
    """Each 7 with a bar across its stem: 2 px thick, at half the digit's height, centred on the
    stem, 0.6 of the digit's width long, softened like MNIST's edges.

    Parameters
    ----------
    frames : ndarray of shape (n, 28, 28), float in [0, 1]
        Frames of 7s.

    Returns
    -------
    ndarray of shape (n, 28, 28), float32
        A frame with no ink on its middle row is returned unchanged.
    """
    out = np.array(frames, dtype=np.float32, copy=True)
    for frame in out:
        rows = np.flatnonzero(frame.max(axis=1) > 0.5)
        cols = np.flatnonzero(frame.max(axis=0) > 0.5)
        if len(rows) < 5:
            continue
        middle = int(rows[0] + 0.5 * (rows[-1] - rows[0]))
        stem = np.flatnonzero(frame[middle] > 0.5)
        if len(stem) == 0:
            continue
        centre = int(stem.mean())
        half = max(3, int(0.3 * (cols[-1] - cols[0] + 1)))
        bar = np.zeros_like(frame)
        bar[middle : middle + 2, max(0, centre - half) : centre + half + 1] = 1.0
        frame[:] = np.maximum(frame, np.clip(ndimage.gaussian_filter(bar, 0.4) / 0.8, 0.0, 1.0))
    return out


def flag_ones(
    frames: np.ndarray, *, length: tuple[float, float] = (0.35, 0.6), angle: tuple[float, float] = (25.0, 55.0), random_state: int = 0
) -> np.ndarray:
    """Each 1 with a flag: a 2 px line from the top of the stem down to the left, ``length`` of the
    digit's height long at ``angle`` degrees below the horizontal; every other one also gets a foot
    (a bar under the stem, 40-70% of its height wide). Re-framed, as the flag widens the digit.

    Parameters
    ----------
    frames : ndarray of shape (n, 28, 28), float in [0, 1]
        Frames of 1s.
    length : (low, high)
        The flag's length as fractions of the digit's height, drawn uniformly. German hands
        (UNIPEN's ``gmd``) draw it nearly as long as the stem and steep, a narrow "Λ":
        ``length=(0.6, 1.0), angle=(45, 75)``.
    angle : (low, high)
        Degrees below the horizontal, drawn uniformly.

    Returns
    -------
    ndarray of shape (m, 28, 28), float32
        ``m <= n``: a frame with too little ink to find a stem is left out.
    """
    rng = np.random.default_rng(random_state)
    out = []
    for index, frame in enumerate(np.asarray(frames, dtype=np.float32)):
        rows = np.flatnonzero(frame.max(axis=1) > 0.5)
        if len(rows) < 8:
            continue
        top, bottom = int(rows[0]), int(rows[-1])
        top_col = int(np.flatnonzero(frame[top] > 0.3).mean())
        bottom_col = int(np.flatnonzero(frame[bottom] > 0.3).mean())
        height = bottom - top
        flag, slope = rng.uniform(*length) * height, np.deg2rad(rng.uniform(*angle))
        marks = [((top, top_col), (int(round(top + flag * np.sin(slope))), int(round(top_col - flag * np.cos(slope)))))]
        if index % 2:
            half = int(rng.uniform(0.2, 0.35) * height)
            marks.append(((bottom, bottom_col - half), (bottom, bottom_col + half)))
        out.append(_with_marks(frame, marks))
    return _stacked(out)


def slash_zeros(frames: np.ndarray, *, random_state: int = 0) -> np.ndarray:
    """Each 0 with a slash: a 2 px line through the ring from beyond its top right to beyond its
    bottom left, reaching 10-40% of the digit's height past the ring at each end, as people who
    write a slashed zero draw it (the UNIPEN site ``gmd`` above all). Re-framed, as the slash widens
    the digit.

    Parameters
    ----------
    frames : ndarray of shape (n, 28, 28), float in [0, 1]
        Frames of 0s.
    random_state : int

    Returns
    -------
    ndarray of shape (m, 28, 28), float32
        ``m <= n``: a frame with too little ink to find the ring is left out.
    """
    rng = np.random.default_rng(random_state)
    out = []
    for frame in np.asarray(frames, dtype=np.float32):
        rows = np.flatnonzero(frame.max(axis=1) > 0.5)
        cols = np.flatnonzero(frame.max(axis=0) > 0.5)
        if len(rows) < 8 or len(cols) < 3:
            continue
        top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
        height = bottom - top
        over_top, over_bottom = rng.uniform(0.1, 0.4, size=2) * height
        start = (int(round(top - over_top)), int(round(right + over_top * 0.6)))
        end = (int(round(bottom + over_bottom)), int(round(left - over_bottom * 0.6)))
        out.append(_with_marks(frame, [(start, end)]))
    return _stacked(out)


def _with_marks(frame: np.ndarray, marks: list[tuple[tuple[int, int], tuple[int, int]]]) -> np.ndarray | None:
    """A 28x28 frame with 2 px anti-aliased lines drawn on it, each ``((row, col), (row, col))`` in
    the frame's pixels (they may leave it), re-framed as the lines widen the digit; None when it
    frames to nothing."""
    from skimage.draw import line_aa

    margin = 14  # room for a line to leave the frame
    page = np.zeros((28 + 2 * margin, 28 + 2 * margin), dtype=np.float32)
    page[margin:-margin, margin:-margin] = frame
    for (r0, c0), (r1, c1) in marks:
        for thickness in (0, 1):
            rr, cc, value = line_aa(r0 + margin + thickness, c0 + margin, r1 + margin + thickness, c1 + margin)
            inside = (rr >= 0) & (rr < page.shape[0]) & (cc >= 0) & (cc < page.shape[1])
            page[rr[inside], cc[inside]] = np.maximum(page[rr[inside], cc[inside]], value[inside])
    try:
        return frame_from_ink(page)
    except NoDigitFoundError:
        return None


def _stacked(frames: list) -> np.ndarray:
    kept = [frame for frame in frames if frame is not None]
    return np.stack(kept).astype(np.float32) if kept else np.zeros((0, 28, 28), dtype=np.float32)


def affine_batch(frames: np.ndarray, matrix: np.ndarray, *, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Apply one affine map about the frame centre to every frame (bilinear, zero outside).

    The same map for every frame is one linear map on the flattened pixels: a sparse matrix with four
    bilinear weights per output pixel, applied to the whole batch in a single product.

    Parameters
    ----------
    frames : ndarray of shape (n, rows, cols)
    matrix : ndarray of shape (2, 2)
        Maps an output (row, col) offset from the centre to the input offset it samples.
    shift : (rows, cols)
        Translation of the content, in pixels.

    Returns
    -------
    ndarray of shape (n, rows, cols), float32
    """
    n, rows, cols = frames.shape
    operator = _affine_operator(rows, cols, np.asarray(matrix, dtype=np.float64), tuple(shift))
    flat = np.asarray(frames, dtype=np.float32).reshape(n, rows * cols)
    return np.asarray(operator @ flat.T).T.reshape(n, rows, cols).astype(np.float32, copy=False)


def _affine_operator(rows: int, cols: int, matrix: np.ndarray, shift: tuple[float, float]):
    from scipy import sparse

    centre = np.array([(rows - 1) / 2, (cols - 1) / 2])
    out_r, out_c = np.mgrid[0:rows, 0:cols].astype(np.float64)
    offsets = np.stack([out_r - centre[0] - shift[0], out_c - centre[1] - shift[1]])
    sample_r, sample_c = np.tensordot(matrix, offsets, axes=1) + centre[:, None, None]
    r0, c0 = np.floor(sample_r), np.floor(sample_c)
    fr, fc = sample_r - r0, sample_c - c0
    output = np.arange(rows * cols)
    entries_out, entries_in, weights = [], [], []
    for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        r, c = (r0 + dr).astype(np.intp).ravel(), (c0 + dc).astype(np.intp).ravel()
        inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols) & (weight.ravel() > 0)
        entries_out.append(output[inside])
        entries_in.append(r[inside] * cols + c[inside])
        weights.append(weight.ravel()[inside])
    return sparse.csr_matrix(
        (np.concatenate(weights).astype(np.float32), (np.concatenate(entries_out), np.concatenate(entries_in))),
        shape=(rows * cols, rows * cols),
    )


def elastic_batch(frames: np.ndarray, *, alpha: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Elastic distortion: a random displacement field, smoothed by a Gaussian, scaled by ``alpha``.

    Parameters
    ----------
    frames : ndarray of shape (n, rows, cols)
    alpha : float
        Largest displacement in the batch, pixels.
    sigma : float
        Smoothness of the field (Gaussian sigma, pixels).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n, rows, cols), float32
    """
    n, rows, cols = frames.shape
    field = rng.uniform(-1.0, 1.0, size=(2, n, rows, cols))
    field = ndimage.gaussian_filter(field, sigma=(0, 0, sigma, sigma), mode="constant")
    # Normalise so that alpha is the largest displacement whatever sigma is.
    field *= alpha / max(np.abs(field).max(), 1e-12)
    grid_r, grid_c = np.mgrid[0:rows, 0:cols]
    coords = np.empty((3, n, rows, cols))
    coords[0] = np.arange(n)[:, None, None]
    coords[1] = grid_r + field[0]
    coords[2] = grid_c + field[1]
    return ndimage.map_coordinates(frames, coords, order=1, mode="constant", cval=0.0).astype(np.float32)


def restroke_batch(frames: np.ndarray, change: int) -> np.ndarray:
    """Thicken (``change > 0``) or thin (``change < 0``) the strokes of every frame.

    A grey dilation or erosion with a plus-shaped footprint, ``abs(change)`` times.
    """
    footprint = np.zeros((1, 3, 3), dtype=bool)
    footprint[0, 1, :] = footprint[0, :, 1] = True
    operation = ndimage.grey_dilation if change > 0 else ndimage.grey_erosion
    out = np.asarray(frames, dtype=np.float32)
    for _ in range(abs(change)):
        out = operation(out, footprint=footprint)
    return out


#: Redrawing works at this multiple of the frame size, as a drawing on a canvas would be.
_REDRAW_UPSCALE = 4


def redraw_batch(frames: np.ndarray, *, width: float = 2.8) -> np.ndarray:
    """Each frame redrawn with a round pen of ``width`` pixels along its skeleton, then re-framed.

    The frame is enlarged 4x, thresholded and skeletonised; a disc of the pen's width is drawn along
    the skeleton (hard edges, as on a canvas), and the result goes through
    :func:`digit_core.framing.frame_from_ink`, the code that frames drawings. Frames with no ink are
    returned unchanged.

    Parameters
    ----------
    frames : ndarray of shape (n, 28, 28), float in [0, 1]
    width : float
        Pen width in frame pixels (MNIST's median stroke is 2.8).

    Returns
    -------
    ndarray of shape (n, 28, 28), float32
    """
    out = np.empty_like(np.asarray(frames, dtype=np.float32))
    radius = width * _REDRAW_UPSCALE / 2.0
    for index, frame in enumerate(frames):
        large = resize(frame, (frame.shape[0] * _REDRAW_UPSCALE, frame.shape[1] * _REDRAW_UPSCALE)) > 0.4
        skeleton = skeletonize(large)
        if not skeleton.any():
            out[index] = frame
            continue
        pen = (ndimage.distance_transform_edt(~skeleton) <= radius).astype(np.float32)
        try:
            out[index] = frame_from_ink(pen, pen > 0.5, redraw=False)
        except NoDigitFoundError:
            out[index] = frame
    return out


#: A scan copy is enlarged this many times by repeating pixels before it is framed, as a 16x16 scan
#: is uploaded at 128x128 (any whole factor from 96 px up frames alike: ``to_mnist_frame`` works on
#: the image as it is from 96 to 256 px).
_SCAN_ENLARGE = 8
#: Pixels of a frame at least this bright are the digit's ink when its box is found.
_SCAN_INK = 0.5


def scan_batch(frames: np.ndarray, *, side: int = 16, stretch: bool = True) -> np.ndarray:
    """Each frame scanned at low resolution (:func:`binary_scans`), uploaded and framed again.

    The binary scan is drawn dark on white and enlarged 8 times by repeating pixels, as such a scan
    is uploaded, and framed by :func:`digit_core.framing.to_mnist_frame`, the function the app frames
    that upload with (``read_digits`` on one mark): training and serving share it.

    Parameters
    ----------
    frames : ndarray of shape (n, 28, 28), float in [0, 1]
    side : int, default=16
        Side of the scan's box, pixels (at least 4).
    stretch : bool, default=True
        Stretch the ink box to fill the square (True) or keep its aspect ratio (False).

    Returns
    -------
    ndarray of shape (n, 28, 28), float32 in [0, 1]
        A frame with no ink at 0.5, or whose scan frames to nothing, is returned unchanged.

    Raises
    ------
    ValueError
        ``side`` under 4, or ``frames`` not of shape (n, rows, cols).
    """
    frames = np.asarray(frames, dtype=np.float32)
    scans = binary_scans(frames, side=side, stretch=stretch)
    out = frames.copy()
    enlarge = np.ones((_SCAN_ENLARGE, _SCAN_ENLARGE), dtype=np.float32)
    for index, scan in enumerate(scans):
        if not scan.any():
            continue
        try:
            out[index] = to_mnist_frame(np.kron(np.where(scan, 0.0, 1.0).astype(np.float32), enlarge))
        except NoDigitFoundError:
            continue
    return out


def binary_scans(frames: np.ndarray, *, side: int = 16, stretch: bool = True) -> np.ndarray:
    """Each frame as a low-resolution binary scan: ink True, filling a ``side x side`` box.

    The digit's ink box (pixels at least 0.5) is scaled, with anti-aliasing, to fill the box both
    ways (``stretch``: a 1 becomes a thick band or a block, as in the Semeion set) or by its longer
    side only (aspect kept, centred, as in USPS), then thresholded at 0.5.

    Parameters
    ----------
    frames : ndarray of shape (n, rows, cols), float in [0, 1]
    side : int, default=16
        Side of the scan's box, pixels (at least 4).
    stretch : bool, default=True

    Returns
    -------
    ndarray of shape (n, side, side), bool
        All False for a frame with no pixel at 0.5.

    Raises
    ------
    ValueError
        ``side`` under 4, or ``frames`` not of shape (n, rows, cols).
    """
    frames = np.asarray(frames, dtype=np.float32)
    if side < 4:
        raise ValueError(f"a scan's side must be at least 4 pixels; got side={side}.")
    if frames.ndim != 3:
        raise ValueError(f"binary_scans expects frames of shape (n, rows, cols); got {frames.shape}.")
    scans = np.zeros((len(frames), side, side), dtype=bool)
    for index, frame in enumerate(frames):
        rows = np.flatnonzero(frame.max(axis=1) >= _SCAN_INK)
        cols = np.flatnonzero(frame.max(axis=0) >= _SCAN_INK)
        if len(rows) == 0:
            continue
        ink = frame[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        height, width = ink.shape
        scale = side / max(height, width)
        shape = (side, side) if stretch else (max(1, round(height * scale)), max(1, round(width * scale)))
        top, left = (side - shape[0]) // 2, (side - shape[1]) // 2
        scans[index, top : top + shape[0], left : left + shape[1]] = resize(ink, shape) >= 0.5
    return scans
