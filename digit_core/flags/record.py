"""The flag record: one flagged sample's metadata line, its schema, and the folder layout they live in.

This is the only module that knows the file format. A flag folder is a Hugging Face ``imagefolder``
dataset (``datasets.load_dataset("imagefolder", data_dir=ROOT)`` reads it as is)::

    ROOT/README.md                          dataset card (:func:`dataset_card`)
    ROOT/samples/<writer>/metadata.jsonl    one line per sample (:func:`new_row`)
    ROOT/samples/<writer>/<uuid>.png        the image as drawn or uploaded
    ROOT/reviews/<reviewer>.jsonl           review decisions: id, status, reason, timestamp

A row carries ``schema_version`` (:data:`SCHEMA_VERSION`); rows written before the field existed
read as version 0 with the same fields. Hand-made imagefolder rows (``file_name`` and ``label``
only, a ``metadata.jsonl`` anywhere in the folder) read too: they are the folder owner's own
labelled data. :func:`read_records` is the one parser; the store, the review tools and the training
loader all read through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidLabelError
from ..framing import FRAME_SIZE

__all__ = [
    "SCHEMA_VERSION",
    "SOURCES",
    "VERDICTS",
    "STATUSES",
    "FlaggedSample",
    "Records",
    "validate_label",
    "new_row",
    "encode_rows",
    "review_rows",
    "samples_folder",
    "is_sample_image",
    "metadata_file",
    "review_file",
    "card_file",
    "dataset_card",
    "read_records",
    "read_reviews",
    "read_flags",
    "sample_status",
]

#: The version of the row written by :func:`new_row`; rows without the field are version 0.
SCHEMA_VERSION = 1
#: Where a flagged image came from.
SOURCES = ("draw", "upload", "api")
#: What the person said: the model was wrong, or it was right.
VERDICTS = ("wrong", "correct")
#: Where a sample stands in review. Only ``accepted`` samples are trained on.
STATUSES = ("pending", "accepted", "rejected")

_METADATA = "metadata.jsonl"
_SAMPLES = "samples"
_REVIEWS = "reviews"

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
| `status` | `pending` when stored; `reviews/*.jsonl` lines (`id`, `status`: `accepted` or `rejected`) decide |
| `suspicion` | why automatic screening wants a person to look first (empty: nothing seen) |
| `client` | a salted hash of who sent it (for rate limits and screening; not the address) |
| `verdict` | `wrong` (the model misread it) or `correct` (confirmed) |
| `predicted` | the digit the model read, or null |
| `probabilities` | the model's ten calibrated probabilities, or null |
| `frame` | the 28x28 frame the model saw, rows of 0-255 integers |
| `model_id`, `model_revision` | which model read it |
| `source` | `draw`, `upload` or `api` |
| `timestamp` | UTC, ISO 8601 |
| `schema_version` | the version of this layout (absent: 0, the same fields) |

Review with `python scripts/flags.py review <this folder>`; train on the accepted samples with
`python scripts/train.py --extra <this folder> ...`.
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
    """One stored sample, as a reader sees it: the metadata line, the image's path, its review status."""

    path: Path
    metadata: dict
    status: str = "pending"

    @property
    def label(self) -> int:
        return validate_label(self.metadata["label"])

    @property
    def id(self) -> str:
        return Path(self.metadata["file_name"]).stem

    @property
    def suspicion(self) -> list[str]:
        """Why screening wants a person to look at it first (empty: nothing seen)."""
        return list(self.metadata.get("suspicion") or [])

    @property
    def schema_version(self) -> int:
        return int(self.metadata.get("schema_version", 0))

    def served_frame(self) -> np.ndarray | None:
        """The 28x28 frame the model was served, float32 in [0, 1], or None when none was recorded.

        Raises
        ------
        ValueError
            The stored frame is not 28 rows of 28 finite values.
        """
        frame = self.metadata.get("frame")
        if frame is None:
            return None
        array = np.asarray(frame, dtype=np.float32)
        if array.shape != (FRAME_SIZE, FRAME_SIZE) or not np.isfinite(array).all():
            raise ValueError(f"frame has shape {array.shape}; expected 28 rows of 28 values 0-255")
        return np.clip(array / 255.0, 0.0, 1.0)


def new_row(
    file_name: str,
    *,
    label,
    timestamp: str,
    frame: np.ndarray | None = None,
    predicted: int | None = None,
    probabilities=None,
    model_id: str = "unknown",
    model_revision: str | None = None,
    source: str = "draw",
    verdict: str = "wrong",
    client: str | None = None,
    suspicion=(),
) -> dict:
    """The metadata line of a new sample, ``pending`` until reviewed.

    Raises
    ------
    InvalidLabelError
        The label is not 0-9.
    ValueError
        ``source`` or ``verdict`` is not one of :data:`SOURCES` / :data:`VERDICTS`.
    """
    label = validate_label(label)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}; got {source!r}.")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}; got {verdict!r}.")
    return {
        "file_name": file_name,
        "label": label,
        "status": "pending",
        "verdict": verdict,
        "predicted": None if predicted is None else int(predicted),
        "probabilities": None if probabilities is None else [round(float(p), 6) for p in probabilities],
        "frame": None if frame is None else _encode_frame(frame),
        "model_id": model_id,
        "model_revision": model_revision,
        "source": source,
        "client": client,
        "suspicion": list(suspicion),
        "timestamp": timestamp,
        "schema_version": SCHEMA_VERSION,
    }


def _encode_frame(frame: np.ndarray) -> list[list[int]]:
    return np.round(np.clip(frame, 0, 1) * 255).astype(int).reshape(FRAME_SIZE, FRAME_SIZE).tolist()


def encode_rows(rows: list[dict]) -> bytes:
    """Rows as the metadata and review files hold them: one JSON object per line, UTF-8."""
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


def review_rows(sample_ids, status: str, *, reason: str | None, timestamp: str) -> list[dict]:
    """The review lines recording ``status`` for each id.

    Raises
    ------
    ValueError
        ``status`` is not one of :data:`STATUSES`.
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}; got {status!r}.")
    return [{"id": str(i), "status": status, "reason": reason, "timestamp": timestamp} for i in sample_ids]


def samples_folder(root: str | Path, writer: str) -> Path:
    """The folder one writer's images and metadata lines go to."""
    return Path(root) / _SAMPLES / writer


def metadata_file(folder: str | Path) -> Path:
    """The metadata file of a samples folder."""
    return Path(folder) / _METADATA


def review_file(root: str | Path, reviewer: str) -> Path:
    """The file one reviewer's decisions are appended to."""
    return Path(root) / _REVIEWS / f"{reviewer}.jsonl"


def is_sample_image(path: Path) -> bool:
    """Whether ``path`` lies where the store keeps sample images (``samples/<writer>/*.png``)."""
    return path.suffix == ".png" and path.parent.parent.name == _SAMPLES


def card_file(root: str | Path) -> Path:
    """The dataset card of a flag folder."""
    return Path(root) / "README.md"


def dataset_card() -> str:
    """The dataset card (``README.md``) of a flag folder, describing every field."""
    return _CARD


@dataclass
class Records:
    """What :func:`read_records` found in a folder.

    Attributes
    ----------
    samples : list of FlaggedSample
        Every row that parses, in file order; its image may be missing.
    problems : list of (str, str)
        ``(file:line, reason)`` for every row that does not parse.
    catalogued : set of Path
        Resolved folders holding a metadata file: their images are listed there, or orphans.
    """

    samples: list[FlaggedSample] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    catalogued: set[Path] = field(default_factory=set)


def read_records(root: str | Path) -> Records:
    """Every metadata row of a folder (any ``metadata.jsonl`` under it), with its review status.

    A row needs ``file_name`` and a ``label`` 0-9 (:func:`validate_label`); blank lines are
    skipped, a line cut short by a crash is a problem, not an error.
    """
    decisions = read_reviews(root)
    found = Records()
    for metadata in sorted(Path(root).rglob(_METADATA)):
        found.catalogued.add(metadata.parent.resolve())
        try:
            lines = metadata.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:  # no permission, an I/O error: the folder's other files still read
            found.problems.append((str(metadata), f"unreadable metadata file: {exc.strerror or exc}"))
            continue
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = _parse_row(line)
            except ValueError as exc:
                found.problems.append((f"{metadata}:{number}", f"unreadable metadata line: {exc}"))
                continue
            status = sample_status(entry, decisions)
            found.samples.append(FlaggedSample(path=metadata.parent / entry["file_name"], metadata=entry, status=status))
    return found


def _parse_row(line: str) -> dict:
    entry = json.loads(line)  # json.JSONDecodeError is a ValueError
    if not isinstance(entry, dict):
        raise ValueError(f"expected an object; got {type(entry).__name__}")
    if not isinstance(entry.get("file_name"), str):
        raise ValueError("no file_name")
    if "label" not in entry:
        raise ValueError("no label")
    validate_label(entry["label"])  # InvalidLabelError is a ValueError
    return entry


def read_flags(root: str | Path) -> list[FlaggedSample]:
    """Every complete sample in a flag folder: metadata lines that parse and whose image exists."""
    return [sample for sample in read_records(root).samples if sample.path.is_file()]


def read_reviews(root: str | Path) -> dict[str, str]:
    """The latest review decision for each sample id: ``{id: "accepted" | "rejected" | "pending"}``."""
    decisions: list[tuple[str, str, str]] = []
    for path in sorted(Path(root).glob(f"{_REVIEWS}/*.jsonl")):
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:  # an unreadable reviewer's file decides nothing
            continue
        for line in lines:
            try:
                entry = json.loads(line)
                if entry["status"] in STATUSES:
                    decisions.append((str(entry.get("timestamp", "")), str(entry["id"]), entry["status"]))
            except (ValueError, KeyError, TypeError):
                continue
    return {sample_id: status for _, sample_id, status in sorted(decisions)}


def sample_status(entry: dict, decisions: dict[str, str]) -> str:
    """Where one metadata line stands: its latest review decision, else what it was stored as.

    A line written by the app (it has a ``verdict``) is ``pending`` until reviewed; a line marked
    ``"refused": true`` is ``rejected``; a hand-made imagefolder line with neither is the folder
    owner's own labelled data, ``accepted``.
    """
    sample_id = Path(str(entry.get("file_name", ""))).stem
    if sample_id in decisions:
        return decisions[sample_id]
    if entry.get("refused"):
        return "rejected"
    if entry.get("status") in STATUSES:
        return entry["status"]
    return "pending" if "verdict" in entry else "accepted"
