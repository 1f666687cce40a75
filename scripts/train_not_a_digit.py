"""Retrain only a model's "not a digit" part on real pen letters, its thresholds set across sites.

    python scripts/train_not_a_digit.py --real ../shared/real --mnist ../shared/mnist --out models/model.skops

The classifier is kept as it is. Prints, per UNIPEN site, the digits and letters refused by a
rejector trained without that site (worst first), then the thresholds (one per digit the mark is
read as); the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from digit_core import config
from digit_core.data import load_mnist
from digit_core.errors import DigitCoreError
from digit_core.persistence import load_model, save_model
from digit_core.real_data import PEN_STYLES, UNIPEN_HELD_OUT_SITES, frame_pen_samples, load_pen_digits, load_pen_letters
from digit_core.rejection import taught_letters
from digit_core.training import train_not_a_digit


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="train_not_a_digit.py", description="Retrain a model's \"not a digit\" part on real letters.")
    parser.add_argument("--model", type=Path, default=config.STARTER_MODEL_PATH, help="model whose classifier is kept (default: the starter)")
    parser.add_argument("--real", type=Path, required=True, help="folder holding unipen_dev.npz and unipen_letters_dev.npz")
    parser.add_argument("--mnist", type=Path, default=config.DEFAULT_MNIST_DIR, help="folder of the MNIST IDX files")
    parser.add_argument("--letters", type=int, default=None, metavar="N", help="draw N of the pen letters at random (default: all)")
    parser.add_argument("--refused", type=float, default=0.0075, help="most digits the worst held-out site may lose (default 0.0075: a margin under the bar of 1%%)")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR", help="keep the framed pen drawings here between runs")
    parser.add_argument("--out", type=Path, default=None, help="write the model here (default: only measure)")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel workers (default 2)")
    return parser


def framed(path: Path, loader, *, limit: int | None, cache: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The samples of a pen file drawn as on the canvas: frames, labels, sites (cached when asked)."""
    pen = loader(path)
    cached = None if cache is None else cache / f"{path.stem}_frames.npz"
    if cached is not None and cached.is_file():
        with np.load(cached) as data:
            frames, index = data["frames"], data["index"]
    else:
        chosen = np.sort(np.random.default_rng(1).choice(len(pen), limit, replace=False)) if limit and limit < len(pen) else np.arange(len(pen))
        frames, index = frame_pen_samples(pen.subset(np.isin(np.arange(len(pen)), chosen)), styles=PEN_STYLES[:1])
        index = chosen[index]
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cached, frames=frames, index=index)
    return frames, pen.labels[index], pen.sources[index]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = load_model(args.model)
        mnist = load_mnist("train", folder=args.mnist)
        pen_frames, _, pen_sites = framed(args.real / "unipen_dev.npz", load_pen_digits, limit=None, cache=args.cache)
        letter_frames, letter_labels, letter_sites = framed(args.real / "unipen_letters_dev.npz", load_pen_letters, limit=args.letters, cache=args.cache)
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    taught = taught_letters(letter_labels)
    result = train_not_a_digit(
        model, mnist=mnist, pen=(pen_frames, pen_sites), letters=(letter_frames[taught], letter_sites[taught]),
        held_out_sites=UNIPEN_HELD_OUT_SITES, refused=args.refused, n_jobs=args.n_jobs,
    )
    rows = sorted(((d.site, len(d.digits), len(d.letters), *d.refused(result.thresholds)) for d in result.decisions), key=lambda r: -r[3])
    print("| site | digits | letters | digits refused | letters refused |")
    print("| --- | --- | --- | --- | --- |")
    for site, n_digits, n_letters, digits, letters in rows:
        print(f"| {site} | {n_digits} | {n_letters} | {digits:.2%} | {letters:.2%} |")
    print("thresholds by the class read: " + " ".join(f"{c}:{t:.3f}" for c, t in zip(result.model.classes_, result.thresholds)))
    if args.out is not None:
        print(f"wrote {save_model(result.model, args.out)}")
    print(json.dumps({"thresholds": [round(float(t), 6) for t in result.thresholds], "sites": [dict(zip(("site", "digits", "letters", "digits_refused", "letters_refused"), r)) for r in rows]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
