"""Measuring a model: accuracy, per-class precision and recall, calibration error, and pictures.

Pictures are drawn with Pillow: a confusion matrix and a gallery of misclassified digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from .calibration import expected_calibration_error
from .data import Split
from .inference import predict_proba

__all__ = ["Evaluation", "evaluate", "confusion_matrix_image", "gallery_image", "save_evaluation_pictures"]


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

