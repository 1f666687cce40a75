"""Evaluate a model on the MNIST test set: accuracy, per-class precision/recall, ECE, pictures.

    python scripts/evaluate.py --mnist ../shared/mnist

The last line of standard output is JSON: {"accuracy": float, "ece": float, "n": int}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digit_core import config  # noqa: E402
from digit_core.data import load_mnist  # noqa: E402
from digit_core.errors import DigitCoreError  # noqa: E402
from digit_core.evaluation import evaluate, save_evaluation_pictures  # noqa: E402
from digit_core.persistence import load_model  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evaluate.py", description="Evaluate a digit model on the MNIST test set.")
    parser.add_argument("--model", type=Path, default=config.STARTER_MODEL_PATH, help="model file (default: the bundled starter model)")
    parser.add_argument("--mnist", type=Path, default=config.DEFAULT_MNIST_DIR, help="folder of the four MNIST IDX files (default: OpenML)")
    parser.add_argument("--out", type=Path, default=Path("evaluation"), help="folder for confusion_matrix.png and misclassified.png")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on the first N test images only")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = load_model(args.model)
        test = load_mnist("test", folder=args.mnist)
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.limit:
        test = test.head(args.limit)
    evaluation = evaluate(model, test)
    print(f"model: {args.model}")
    print(evaluation.report())
    confusion, gallery = save_evaluation_pictures(evaluation, test, args.out)
    print(f"wrote {confusion} and {gallery}")
    print(json.dumps(evaluation.summary()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
