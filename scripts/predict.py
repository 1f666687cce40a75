"""Read the digits in image files, left to right.

    python scripts/predict.py tests/data/number.png
    python scripts/predict.py --json --single drawing.png

With --json, one object per line: {"file", "digits", "confidence"} or, for a file that could not be
read, {"file", "error"}; the other files are still read and the exit status is 1 at the end. An
image read exactly as the app reads a drawing whose mark does not look like a digit (a letter, a
scribble, a blot) gets an error that starts "not a digit".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from digit_core import config
from digit_core.errors import DigitCoreError, NotADigitError
from digit_core.images import open_image
from digit_core.persistence import load_model
from digit_core.reading import read_digits


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="predict.py", description="Read every digit in each image, left to right.")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files (PNG, JPEG, GIF, BMP, TIFF, WebP)")
    parser.add_argument("--model", type=Path, default=config.STARTER_MODEL_PATH, help="model file (default: the bundled starter model)")
    parser.add_argument("--single", action="store_true", help="treat each image as one digit (no segmentation)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = load_model(args.model)
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for path in args.images:
        try:
            reading = read_digits(model, open_image(path), single=args.single)
            if reading.refusal():
                raise NotADigitError(reading.refusal())
        except DigitCoreError as exc:
            status = 1
            if args.json:
                print(json.dumps({"file": str(path), "error": str(exc)}))
            else:
                print(f"{path}: error: {exc}")
            continue
        if args.json:
            print(json.dumps({"file": str(path), "digits": reading.text, "confidence": round(reading.confidence, 6)}))
        else:
            per_digit = " ".join(f"{d.digit}({d.confidence:.2f})" for d in reading.digits)
            print(f"{path}: {reading.text}  confidence {reading.confidence:.3f}  [{per_digit}]")
    return status


if __name__ == "__main__":
    sys.exit(main())
