"""Measuring a model: accuracy, per-class precision and recall, calibration error, and pictures.

Pictures are drawn with Pillow: a confusion matrix, a gallery of misclassified digits and reliability diagrams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from scipy import ndimage
from skimage.filters import threshold_otsu

from .calibration import expected_calibration_error
from .data import Split
from .errors import DigitCoreError, NoDigitFoundError
from .framing import frame_from_ink
from .images import open_image, to_grayscale
from .inference import predict_proba
from .reading import read_digits

__all__ = [
    "Evaluation",
    "evaluate",
    "confusion_matrix_image",
    "gallery_image",
    "save_evaluation_pictures",
    "SetEvaluation",
    "evaluate_set",
    "save_set_pictures",
    "not_a_digit_rates",
    "textbook_ink",
    "textbook_frame",
    "reliability_diagram",
]


@dataclass
class Evaluation:
    """Results on one labelled split.

    Attributes
    ----------
    accuracy, ece : float
    n : int
    precision, recall : ndarray of shape (10,)
    confusion : ndarray of shape (10, 10)
        Rows are true digits, columns predicted.
    probabilities : ndarray of shape (n, 10)
    labels : ndarray of shape (n,)
    """

    accuracy: float
    ece: float
    n: int
    precision: np.ndarray
    recall: np.ndarray
    confusion: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    def summary(self) -> dict:
        """``{"accuracy": float, "ece": float, "n": int}``."""
        return {"accuracy": round(self.accuracy, 6), "ece": round(self.ece, 6), "n": self.n}

    def report(self) -> str:
        """A plain-text table of per-class precision and recall, then accuracy and ECE."""
        lines = ["digit  precision  recall  support"]
        support = self.confusion.sum(axis=1)
        for digit in range(10):
            lines.append(f"{digit:>5}  {self.precision[digit]:9.4f}  {self.recall[digit]:6.4f}  {support[digit]:7d}")
        lines.append(f"accuracy {self.accuracy:.4%} on {self.n} images; ECE {self.ece:.4f}")
        return "\n".join(lines)


def evaluate(model, split: Split, *, batch_size: int = 2000) -> Evaluation:
    """Evaluate a model on frames with known labels.

    Parameters
    ----------
    model : estimator with ``predict_proba``
    split : Split
        Frames ``(n, 28, 28)`` and labels ``(n,)``.
    """
    probabilities = predict_proba(model, split.images, batch_size=batch_size)
    labels = np.asarray(split.labels)
    predicted = probabilities.argmax(axis=1)
    precision, recall, _, _ = precision_recall_fscore_support(
        labels, predicted, labels=np.arange(10), zero_division=0
    )
    return Evaluation(
        accuracy=float((predicted == labels).mean()),
        ece=expected_calibration_error(probabilities, labels),
        n=len(labels),
        precision=precision,
        recall=recall,
        confusion=confusion_matrix(labels, predicted, labels=np.arange(10)),
        probabilities=probabilities,
        labels=labels,
    )


def confusion_matrix_image(confusion: np.ndarray, *, cell: int = 44) -> Image.Image:
    """A confusion matrix as a picture: true digit down, predicted across, errors shaded red.

    Parameters
    ----------
    confusion : ndarray of shape (10, 10), int
    """
    font = ImageFont.load_default(size=max(10, cell // 3))
    margin = cell
    size = margin + 10 * cell + 8
    image = Image.new("RGB", (size, size + 16), "white")
    draw = ImageDraw.Draw(image)
    off_diagonal = confusion.copy()
    np.fill_diagonal(off_diagonal, 0)
    worst = max(int(off_diagonal.max()), 1)
    for row in range(10):
        draw.text((margin // 3, margin + row * cell + cell // 3), str(row), fill="black", font=font)
        draw.text((margin + row * cell + cell // 3, margin // 3), str(row), fill="black", font=font)
        for col in range(10):
            count = int(confusion[row, col])
            if row == col:
                colour = (210, 235, 210)
            else:
                shade = int(255 - 200 * min(count / worst, 1.0)) if count else 255
                colour = (255, shade, shade)
            box = (margin + col * cell, margin + row * cell, margin + (col + 1) * cell - 1, margin + (row + 1) * cell - 1)
            draw.rectangle(box, fill=colour, outline=(200, 200, 200))
            if count:
                draw.text((box[0] + 4, box[1] + cell // 3), str(count), fill="black", font=font)
    draw.text((margin, size - 4), "rows: true digit, columns: predicted", fill="black", font=font)
    return image


def gallery_image(
    frames: np.ndarray, true: np.ndarray, predicted: np.ndarray, *, columns: int = 12, scale: int = 3, limit: int = 120
) -> Image.Image:
    """A contact sheet of digits, each captioned ``true->predicted``.

    Parameters
    ----------
    frames : ndarray of shape (n, 28, 28), float in [0, 1]
    true, predicted : ndarray of shape (n,)
        ``predicted`` may hold -1 for "none".
    """
    frames = np.asarray(frames)[:limit]
    n = max(len(frames), 1)
    rows = int(np.ceil(n / columns))
    tile = 28 * scale
    font = ImageFont.load_default(size=12)
    image = Image.new("L", (columns * tile, rows * (tile + 14)), 255)
    draw = ImageDraw.Draw(image)
    for i, frame in enumerate(frames):
        digit = Image.fromarray(255 - np.uint8(np.clip(frame, 0, 1) * 255)).resize((tile, tile), Image.Resampling.NEAREST)
        x, y = (i % columns) * tile, (i // columns) * (tile + 14)
        image.paste(digit, (x, y))
        caption = f"{int(true[i])}->{int(predicted[i])}" if predicted[i] >= 0 else f"{int(true[i])}"
        draw.text((x + 2, y + tile), caption, fill=0, font=font)
    return image


def save_evaluation_pictures(evaluation: Evaluation, split: Split, folder: str | Path) -> tuple[Path, Path]:
    """Write ``confusion_matrix.png`` and ``misclassified.png`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wrong = np.flatnonzero(evaluation.predictions != evaluation.labels)
    confusion_path = folder / "confusion_matrix.png"
    gallery_path = folder / "misclassified.png"
    confusion_matrix_image(evaluation.confusion).save(confusion_path)
    gallery_image(split.images[wrong], evaluation.labels[wrong], evaluation.predictions[wrong]).save(gallery_path)
    return confusion_path, gallery_path



@dataclass
class SetEvaluation:
    """Results on a labelled image set (:class:`digit_core.real_data.LabelledSet`), read as the app reads.

    Attributes
    ----------
    name : str
    single_digits : bool
        A set of digit crops (scored per image) or of numbers (scored by exact digit string).
    n : int
        Images.
    accuracy : float
        Digits read right (single digits), or numbers read exactly.
    baseline_accuracy : float
        The same score with the textbook framing (:func:`textbook_frame`) and, for
        numbers, connected components as digits.
    confusion : ndarray of shape (10, 10)
        True digit down, read across: every image (single digits), or every true digit whose box was
        found (numbers with boxes).
    ece : float or None
        Expected calibration error (single digits).
    segmentation : float or None
        Numbers with boxes: the fraction of true digit boxes matched by a box read, IoU >= 0.5.
    unread : int
        Images that gave no digit at all.
    rejected : int
        Images answered "not a digit" (:meth:`digit_core.reading.Reading.refusal`), still scored
        by the digits read.
    misread : list of (frame, truth, read)
        The misreadings, for the gallery: the first frame read and the strings.
    """

    name: str
    single_digits: bool
    n: int
    accuracy: float
    baseline_accuracy: float
    confusion: np.ndarray
    ece: float | None = None
    segmentation: float | None = None
    unread: int = 0
    rejected: int = 0
    misread: list = field(default_factory=list)

    @property
    def recall(self) -> np.ndarray:
        """Per-digit recall from :attr:`confusion`, shape (10,); NaN for a digit never seen."""
        support = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(support > 0, np.diag(self.confusion) / np.maximum(support, 1), np.nan)

    def summary(self) -> dict:
        """The figures as a JSON-ready dict."""
        out = {"set": self.name, "kind": "digits" if self.single_digits else "numbers", "n": self.n,
               "accuracy": round(self.accuracy, 6), "baseline_accuracy": round(self.baseline_accuracy, 6),
               "unread": self.unread, "rejected": self.rejected}
        if self.ece is not None:
            out["ece"] = round(self.ece, 6)
        if self.segmentation is not None:
            out["segmentation_iou50"] = round(self.segmentation, 6)
        return out

    def report(self) -> str:
        """Plain text: the score beside the textbook baseline, then per-digit recall."""
        what = "digits read right" if self.single_digits else "numbers read exactly"
        lines = [f"{self.name}: {self.accuracy:.2%} {what} on {self.n} images "
                 f"(textbook framing: {self.baseline_accuracy:.2%}); {self.unread} gave no digit, "
                 f"{self.rejected} ({self.rejected / max(self.n, 1):.2%}) answered \"not a digit\""]
        if self.ece is not None:
            lines.append(f"  expected calibration error {self.ece:.4f}")
        if self.segmentation is not None:
            lines.append(f"  segmentation: {self.segmentation:.2%} of the true digit boxes found (IoU >= 0.5)")
        recall = self.recall
        lines.append("  recall " + "  ".join(f"{d}:{'-' if np.isnan(r) else f'{r:.3f}'}" for d, r in enumerate(recall)))
        return "\n".join(lines)


def evaluate_set(model, labelled, *, name: str | None = None) -> SetEvaluation:
    """Read every image of a labelled set the way the app does, and score it beside the textbook baseline.

    Single-digit sets are read with :func:`digit_core.reading.read_digits` ``(single=True)``; sets of
    numbers with segmentation, compared by exact digit string and, where ``labels.csv`` gives boxes,
    by the boxes found (IoU >= 0.5).

    Parameters
    ----------
    model : estimator with ``predict_proba``
    labelled : LabelledSet
    name : str, optional
        Default: the set's folder name.
    """
    name = name or labelled.folder.name
    single = labelled.single_digits
    confusion = np.zeros((10, 10), dtype=int)
    probabilities, truths, misread = [], [], []
    right = baseline_right = unread = rejected = found = boxes_total = 0
    baseline_frames: list[np.ndarray] = []
    for item in labelled.items:
        image = reading = None
        try:
            image = open_image(item.path)
            reading = read_digits(model, image, single=single)
        except DigitCoreError:
            pass  # counted below as an image that gave no digit
        rejected += reading is not None and reading.refusal() is not None
        if reading is None or not reading.digits:
            unread += 1
            text, first = "", np.zeros((28, 28), np.float32)
        else:
            text, first = reading.text, reading.digits[0].frame
        right += text == item.label
        if text != item.label:
            misread.append((first, item.label, text or "none"))
        if single:
            truth = int(item.label)
            probabilities.append(reading.digits[0].probabilities if reading and reading.digits else np.full(10, 0.1))
            truths.append(truth)
            if reading and reading.digits:
                confusion[truth, reading.digits[0].digit] += 1
            baseline_frames.append(_textbook_frame_or_blank(image))
        else:
            if item.boxes is not None:
                read_boxes = [(d.box, d.digit) for d in reading.digits] if reading else []
                for (x, y, w, h), digit in zip(item.boxes, item.label):
                    boxes_total += 1
                    match = _best_match((x, y, x + w, y + h), read_boxes)
                    if match is not None:
                        found += 1
                        confusion[int(digit), read_boxes.pop(match)[1]] += 1
            baseline_right += image is not None and _textbook_read(model, image) == item.label
    n = len(labelled.items)
    ece = None
    if single:
        stacked = np.stack(baseline_frames) if baseline_frames else np.zeros((0, 28, 28), np.float32)
        baseline_right = int((predict_proba(model, stacked).argmax(axis=1) == np.asarray(truths)).sum()) if n else 0
        ece = expected_calibration_error(np.asarray(probabilities), np.asarray(truths)) if n else 0.0
    return SetEvaluation(
        name=name,
        single_digits=single,
        n=n,
        accuracy=right / max(n, 1),
        baseline_accuracy=baseline_right / max(n, 1),
        confusion=confusion,
        ece=ece,
        segmentation=(found / boxes_total) if boxes_total else None,
        unread=unread,
        rejected=rejected,
        misread=misread,
    )


def not_a_digit_rates(model, images) -> tuple[float, float]:
    """How images (anything :func:`digit_core.reading.read_digits` takes) read as one digit are
    judged: the fraction answered "not a digit", and the fraction read as a digit with the note that
    it may not be one. For letters and scribbles, the higher the better; for digits, the lower."""
    readings = [read_digits(model, image, single=True) for image in images]
    refused = sum(reading.refusal() is not None for reading in readings)
    noted = sum(reading.refusal() is None and reading.digits[0].maybe_not_a_digit for reading in readings)
    return refused / max(len(readings), 1), noted / max(len(readings), 1)


def save_set_pictures(evaluation: SetEvaluation, folder: str | Path) -> tuple[Path, Path]:
    """Write ``<name>_confusion.png`` and ``<name>_misread.png`` (the first frame read, captioned
    ``truth->read``) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    confusion_path = folder / f"{evaluation.name}_confusion.png"
    gallery_path = folder / f"{evaluation.name}_misread.png"
    confusion_matrix_image(evaluation.confusion).save(confusion_path)
    frames = np.stack([m[0] for m in evaluation.misread]) if evaluation.misread else np.zeros((0, 28, 28))
    _caption_gallery(frames, [f"{m[1]}->{m[2]}" for m in evaluation.misread]).save(gallery_path)
    return confusion_path, gallery_path


def _caption_gallery(frames: np.ndarray, captions: list[str], *, columns: int = 8, scale: int = 3, limit: int = 96) -> Image.Image:
    frames = np.asarray(frames)[:limit]
    tile_w, tile_h = max(28 * scale, 7 * max((len(c) for c in captions[:limit]), default=1)), 28 * scale
    rows = max(1, int(np.ceil(len(frames) / columns)))
    font = ImageFont.load_default(size=12)
    image = Image.new("L", (columns * tile_w, rows * (tile_h + 14)), 255)
    draw = ImageDraw.Draw(image)
    for i, (frame, caption) in enumerate(zip(frames, captions)):
        digit = Image.fromarray(255 - np.uint8(np.clip(frame, 0, 1) * 255)).resize((tile_h, tile_h), Image.Resampling.NEAREST)
        x, y = (i % columns) * tile_w, (i // columns) * (tile_h + 14)
        image.paste(digit, (x, y))
        draw.text((x + 2, y + tile_h), caption, fill=0, font=font)
    return image


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _best_match(box, read_boxes) -> int | None:
    scores = [_iou(box, other) for other, _ in read_boxes]
    if not scores or max(scores) < 0.5:
        return None
    return int(np.argmax(scores))


def _textbook_frame_or_blank(image) -> np.ndarray:
    # An unreadable or uniform image counts as read wrong: a blank frame.
    if image is None:
        return np.zeros((28, 28), np.float32)
    try:
        return textbook_frame(image)
    except DigitCoreError:
        return np.zeros((28, 28), np.float32)


def _textbook_read(model, image) -> str:
    # The textbook way to read a number: Otsu, connected components (specks under 2% of the largest
    # dropped), each framed the textbook way, left to right.
    try:
        ink, mask = textbook_ink(image)
    except DigitCoreError:
        return ""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return ""
    areas = np.bincount(labels.ravel())[1:]
    windows = ndimage.find_objects(labels)
    kept = [(w[1].start, i) for i, w in enumerate(windows) if areas[i] >= 0.02 * areas.max()]
    frames = []
    for _, i in sorted(kept):
        rows, cols = windows[i]
        frames.append(textbook_frame(np.where(labels[rows, cols] == i + 1, ink[rows, cols], 0.0)))
    return "".join(str(d) for d in predict_proba(model, np.stack(frames)).argmax(axis=1))


def textbook_ink(image) -> tuple[np.ndarray, np.ndarray]:
    """The textbook separation of ink from paper: grey, polarity (paper is the median tone), one Otsu
    threshold. The first half of :func:`textbook_frame`, also used to read numbers the textbook way.

    Returns
    -------
    ink : ndarray of shape (H, W), float32 in [0, 1]
        Bright ink on dark paper.
    mask : ndarray of shape (H, W), bool
        ``ink`` above Otsu's threshold.

    Raises
    ------
    NoDigitFoundError
        A uniform image.
    """
    grey = to_grayscale(image)
    ink = 1.0 - grey if np.median(grey) > (grey.min() + grey.max()) / 2 else grey
    if float(ink.max() - ink.min()) < 1e-6:
        raise NoDigitFoundError("no digit found: the image is uniform.")
    return ink, ink > threshold_otsu(ink)


def textbook_frame(image) -> np.ndarray:
    """The textbook framing, the baseline :func:`evaluate_set` measures ``to_mnist_frame`` against.

    Grey, polarity (paper is the median tone), one Otsu threshold, crop to the ink, longer side to 20
    pixels, centre of mass at (14, 14): no paper-tone removal, no speck or line removal, no stroke
    width normalisation.

    Parameters
    ----------
    image : PIL.Image.Image or ndarray
        As :func:`digit_core.images.to_grayscale` accepts.

    Returns
    -------
    ndarray of shape (28, 28), float32, values in [0, 1]

    Raises
    ------
    NoDigitFoundError
        A uniform image.
    """
    ink, mask = textbook_ink(image)
    return frame_from_ink(ink * mask, mask, redraw=False)


def reliability_diagram(confidences, correct, *, title: str, bins: int = 10, size: int = 360) -> Image.Image:
    """A reliability diagram: readings binned by the confidence they reported, each bin's fraction
    read right drawn as a bar beside the diagonal a calibrated reader would follow, with its count.

    Parameters
    ----------
    confidences : array-like of shape (n,), float in [0, 1]
    correct : array-like of shape (n,), bool
    title : str
        Written above the plot.

    Returns
    -------
    PIL.Image.Image
        RGB, ``size + 60`` pixels square-ish.
    """
    confidences = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    correct = np.asarray(correct, dtype=bool)
    which = np.minimum((confidences * bins).astype(int), bins - 1)
    left, top, font = 40, 30, ImageFont.load_default(size=11)
    image = Image.new("RGB", (size + left + 10, size + top + 30), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 8), f"{title} (n={len(correct)})", fill="black", font=font)
    draw.rectangle((left, top, left + size, top + size), outline="black")
    step = size / bins
    for b in range(bins):
        members = which == b
        if not members.any():
            continue
        accuracy = float(correct[members].mean())
        x0 = left + b * step
        draw.rectangle((x0 + 1, top + size * (1 - accuracy), x0 + step - 1, top + size), fill=(70, 130, 200))
        draw.text((x0 + 2, top + size + 4), str(int(members.sum())), fill="black", font=font)
    draw.line((left, top + size, left + size, top), fill=(200, 60, 60), width=2)
    draw.text((left, top + size + 16), "confidence reported (bins of 0.1; counts) vs fraction right", fill="black", font=font)
    for tick in (0.0, 0.5, 1.0):
        draw.text((4, top + size * (1 - tick) - 6), f"{tick:.1f}", fill="black", font=font)
    return image
