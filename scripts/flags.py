"""Summarise a folder of flagged drawings: counts per digit, per predicted->corrected pair, a contact sheet.

    python scripts/flags.py flagged/ --sheet flags.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from digit_core import config
from digit_core.errors import DigitCoreError
from digit_core.evaluation import gallery_image
from digit_core.flagging import read_flags
from digit_core.framing import to_mnist_frame
from digit_core.images import open_image


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flags.py", description="Summarise a folder of flagged drawings.")
    parser.add_argument("folder", type=Path, nargs="?", default=config.FLAG_DIR, help="flag folder (default: DIGIT_FLAG_DIR or flagged/)")
    parser.add_argument("--sheet", type=Path, default=Path("flags.png"), help="where to write the contact sheet PNG")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def summarise(folder: Path) -> dict:
    samples = read_flags(folder)
    labels = Counter(s.label for s in samples)
    pairs = Counter(
        f"{s.metadata.get('predicted')}->{s.label}" for s in samples if s.metadata.get("verdict") == "wrong"
    )
    verdicts = Counter(s.metadata.get("verdict", "wrong") for s in samples)
    return {
        "samples": len(samples),
        "per_label": {str(d): labels.get(d, 0) for d in range(10)},
        "verdicts": dict(verdicts),
        "wrong_pairs": dict(pairs.most_common()),
    }


def _frame(sample) -> np.ndarray:
    stored = sample.metadata.get("frame")
    if stored is not None:
        return np.asarray(stored, dtype=np.float32) / 255.0
    try:
        return to_mnist_frame(open_image(sample.path))
    except DigitCoreError:
        return np.zeros((28, 28), dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.folder.is_dir():
        print(f"error: flag folder {args.folder} does not exist.", file=sys.stderr)
        return 2
    summary = summarise(args.folder)
    samples = read_flags(args.folder)
    if samples:
        frames = np.stack([_frame(s) for s in samples])
        predicted = np.array([s.metadata.get("predicted") if s.metadata.get("predicted") is not None else -1 for s in samples])
        gallery_image(frames, np.array([s.label for s in samples]), predicted, limit=len(samples)).save(args.sheet)
        summary["sheet"] = str(args.sheet)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{summary['samples']} flagged samples in {args.folder}")
    print("per digit: " + ", ".join(f"{d}: {n}" for d, n in summary["per_label"].items()))
    print("verdicts: " + ", ".join(f"{v}: {n}" for v, n in summary["verdicts"].items()))
    for pair, count in summary["wrong_pairs"].items():
        print(f"  read {pair.split('->')[0]}, was {pair.split('->')[1]}: {count}")
    if samples:
        print(f"contact sheet: {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
