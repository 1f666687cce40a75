"""The store of flagged drawings: an append-only Hugging Face ``imagefolder`` dataset on disk.

Layout (what ``datasets.load_dataset("imagefolder", data_dir=ROOT)`` and
:func:`digit_core.data.load_extra_folder` both read as is)::

    ROOT/README.md                          dataset card
    ROOT/samples/<writer>/metadata.jsonl    one line per sample: file_name, label, ...
    ROOT/samples/<writer>/<uuid>.png        the image as drawn or uploaded

Each process writes to its own ``<writer>`` folder. An image is written to a temporary file and
renamed into place; then the metadata file is rewritten whole (temporary file + rename) under a lock,
so a crash at any moment leaves either a complete entry or none that a reader takes. When a Hub
dataset repository and a token are given, a ``huggingface_hub.CommitScheduler`` pushes the folder
every few minutes, and writes happen under its lock.
"""

from __future__ import annotations

import io
import json
import os
import threading
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import InvalidImageError, InvalidLabelError
from .framing import FRAME_SIZE
from .images import to_grayscale

__all__ = ["FlagStore", "FlaggedSample", "validate_label", "read_flags", "SOURCES", "VERDICTS"]

#: Where a flagged image came from.
SOURCES = ("draw", "upload", "api")
#: What the person said: the model was wrong, or it was right.
VERDICTS = ("wrong", "correct")

_CARD = """---
license: cc-by-sa-4.0
task_categories:
- image-classification
pretty_name: Flagged handwritten digits
tags:
- mnist
- handwritten-digits
size_categories:
- n<1K
---

# Flagged handwritten digits

Drawings and uploads that people sent to the digit recogniser, with the digit they said was right.
An `imagefolder` dataset: `samples/<writer>/metadata.jsonl` lists every image with these fields:

| field | meaning |
| --- | --- |
| `file_name` | the image as drawn or uploaded (PNG) |
| `label` | the right digit, 0-9, as the person said |
| `verdict` | `wrong` (the model misread it) or `correct` (confirmed) |
| `predicted` | the digit the model read, or null |
| `probabilities` | the model's ten calibrated probabilities, or null |
| `frame` | the 28x28 frame the model saw, rows of 0-255 integers |
| `model_id`, `model_revision` | which model read it |
| `source` | `draw`, `upload` or `api` |
| `timestamp` | UTC, ISO 8601 |

Train on it with `python scripts/train.py --extra <this folder> ...`.
"""


def validate_label(label) -> int:
    """The label as an int 0-9.

    Raises
    ------
    InvalidLabelError
        Anything else (including bools, floats with a fraction, strings that are not one digit).
    """
    if isinstance(label, bool):
        raise InvalidLabelError(f"label {label!r} is not a digit; expected an integer 0-9.")
    if isinstance(label, str) and label.strip().isdigit():
        label = int(label.strip())
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        label = int(label)
    if not isinstance(label, (int, np.integer)) or not 0 <= int(label) <= 9:
        raise InvalidLabelError(f"label {label!r} is not a digit; expected an integer 0-9.")
    return int(label)


@dataclass(frozen=True)
class FlaggedSample:
    """One stored sample, as a reader sees it: the metadata line plus the image's path."""

    path: Path
    metadata: dict

    @property
    def label(self) -> int:
        return int(self.metadata["label"])

    @property
    def id(self) -> str:
        return Path(self.metadata["file_name"]).stem


class FlagStore:
    """Append-only store of flagged drawings.

    Parameters
    ----------
    root : path
        The dataset folder (``DIGIT_FLAG_DIR``).
    scheduler : huggingface_hub.CommitScheduler, optional
        When given, writes happen under ``scheduler.lock`` so a push never sees half a sample.
    writer : str, optional
        This process's folder name under ``samples/``; default a fresh uuid.
    """

    def __init__(self, root: str | Path, *, scheduler=None, writer: str | None = None):
        self.root = Path(root)
        self.scheduler = scheduler
        self.writer = writer or uuid.uuid4().hex
        self.folder = self.root / "samples" / self.writer
        self._lock = threading.Lock()

    @classmethod
    def with_hub_sync(cls, root: str | Path, *, repo_id: str | None, token: str | None, api=None, every_minutes: float = 5):
        """A store that pushes to the Hub dataset ``repo_id`` every few minutes, when a token is set.

        Without ``repo_id`` or ``token`` nothing touches the network. ``api`` is the ``HfApi`` client.
        """
        scheduler = None
        if repo_id and (token or api is not None):
            from huggingface_hub import CommitScheduler

            Path(root).mkdir(parents=True, exist_ok=True)
            scheduler = CommitScheduler(
                repo_id=repo_id,
                repo_type="dataset",
                folder_path=root,
                every=every_minutes,
                token=token,
                hf_api=api,
                private=True,
            )
        return cls(root, scheduler=scheduler)

    @contextmanager
    def _locked(self):
        with self._lock, (self.scheduler.lock if self.scheduler is not None else nullcontext()):
            yield

    def add(
        self,
        image,
        *,
        label,
        frame: np.ndarray | None = None,
        predicted: int | None = None,
        probabilities=None,
        model_id: str = "unknown",
        model_revision: str | None = None,
        source: str = "draw",
        verdict: str = "wrong",
    ) -> str:
        """Store one sample; return its id (the image's uuid).

        Parameters
        ----------
        image : PIL.Image.Image or ndarray
            The image as drawn or uploaded; saved as PNG.
        label : int
            The right digit, 0-9.
        frame : ndarray of shape (28, 28), float in [0, 1], optional
            The frame the model saw.
        predicted : int, optional
        probabilities : sequence of 10 floats, optional
        model_id, model_revision : str
        source : {'draw', 'upload', 'api'}
        verdict : {'wrong', 'correct'}

        Raises
        ------
        InvalidLabelError
            The label is not 0-9; nothing is written.
        InvalidImageError
            The image is empty or uniform (nothing drawn); nothing is written.
        """
        label = validate_label(label)
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}; got {source!r}.")
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {verdict!r}.")
        png = _png_bytes(image)
        sample_id = uuid.uuid4().hex
        file_name = f"{sample_id}.png"
        line = {
            "file_name": file_name,
            "label": label,
            "verdict": verdict,
            "predicted": None if predicted is None else int(predicted),
            "probabilities": None if probabilities is None else [round(float(p), 6) for p in probabilities],
            "frame": None if frame is None else np.round(np.clip(frame, 0, 1) * 255).astype(int).reshape(FRAME_SIZE, FRAME_SIZE).tolist(),
            "model_id": model_id,
            "model_revision": model_revision,
            "source": source,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        with self._locked():
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_card()
            _atomic_write(self.folder / file_name, png)
            metadata = self.folder / "metadata.jsonl"
            existing = metadata.read_bytes() if metadata.exists() else b""
            _atomic_write(metadata, existing + (json.dumps(line) + "\n").encode("utf-8"))
        return sample_id

    def _write_card(self) -> None:
        card = self.root / "README.md"
        if not card.exists():
            _atomic_write(card, _CARD.encode("utf-8"))

    def count(self) -> int:
        """Samples stored in the whole folder (all writers)."""
        return len(read_flags(self.root))


def _png_bytes(image) -> bytes:
    if isinstance(image, Image.Image):
        pil = image
    else:
        array = np.asarray(image)
        if array.size == 0:
            raise InvalidImageError("the image is empty; draw or upload a digit before flagging it.")
        if array.dtype != np.uint8:
            array = np.uint8(np.clip(array.astype(np.float64) * (255 if array.max(initial=0) <= 1 else 1), 0, 255))
        pil = Image.fromarray(array)
    grey = to_grayscale(pil)  # transparency composited, so strokes drawn only in alpha count
    if float(grey.max() - grey.min()) < 1 / 255:
        raise InvalidImageError("the image is blank; draw or upload a digit before flagging it.")
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_flags(root: str | Path) -> list[FlaggedSample]:
    """Every complete sample in a flag folder: metadata lines that parse and whose image exists."""
    samples = []
    for metadata in sorted(Path(root).glob("samples/*/metadata.jsonl")):
        for line in metadata.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                path = metadata.parent / entry["file_name"]
                validate_label(entry["label"])
            except (ValueError, KeyError, TypeError):
                continue
            if path.is_file():
                samples.append(FlaggedSample(path=path, metadata=entry))
    return samples
