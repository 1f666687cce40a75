"""Train a digit model and write it with its card and evaluation report.

    python scripts/train.py --profile compact --mnist ../shared/mnist --out models/
    python scripts/train.py --extra flagged/ --extra hf://datasets/OWNER/FLAGS@REVISION --out candidate/

``--extra`` takes flag folders and Hub flag datasets (read through the Hub cache at a pinned
revision); only accepted samples are used, and a fixed part of them (``--hold-out``) is kept out of
training so that ``scripts/promote.py`` can compare models on drawings neither has seen.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from tqdm import tqdm

from digit_core import config
from digit_core.candidate import CandidateSpec, write_candidate
from digit_core.errors import DigitCoreError
from digit_core.flags import FLAG_HELD_OUT_FRACTION, load_flag_data
from digit_core.model import PROFILES
from digit_core.training import STAGES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py", description="Train a calibrated SVC digit model on MNIST (plus extra drawings)."
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="compact", help="training recipe (default: compact)")
    parser.add_argument("--mnist", type=Path, default=config.DEFAULT_MNIST_DIR, help="folder of the four MNIST IDX files (default: OpenML)")
    parser.add_argument("--extra", action="append", default=[], metavar="DIR_OR_HF",
                        help="folder of labelled drawings, or a Hub flag dataset hf://datasets/OWNER/NAME[@REVISION] (repeatable)")
    parser.add_argument("--hold-out", type=float, default=FLAG_HELD_OUT_FRACTION, metavar="FRACTION",
                        help=f"part of the accepted extra samples kept out of training for scripts/promote.py (default {FLAG_HELD_OUT_FRACTION})")
    parser.add_argument("--pen", type=Path, default=None, metavar="NPZ",
                        help="real pen digits (unipen_dev.npz layout) drawn as canvas strokes and added to training; "
                        "the held-out sites are never used")
    parser.add_argument("--pen-limit", type=int, default=None, metavar="N", help="use the first N pen digits of the training sites only")
    parser.add_argument("--out", type=Path, default=None, help="folder to write model.skops, README.md (card) and evaluation files (required unless --dry-run)")
    parser.add_argument("--dry-run", action="store_true",
                        help="read the --extra folders and print what would be added, as JSON on the last line; train nothing")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N MNIST training images only")
    parser.add_argument("--test-limit", type=int, default=None, help="evaluate on the first N test images only")
    parser.add_argument("--n-jobs", type=int, default=-1, help="parallel workers for augmentation (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0.0 <= args.hold_out < 1.0:
        parser.error(f"--hold-out must be at least 0 and below 1; got {args.hold_out}")
    if args.out is None and not args.dry_run:
        parser.error("--out is required (or use --dry-run)")
    try:
        return _dry_run(args) if args.dry_run else _train(args, "python scripts/train.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _dry_run(args: argparse.Namespace) -> int:
    flags = load_flag_data(args.extra, fraction=args.hold_out) if args.extra else None
    if flags is not None:
        for line in flags.report_lines():
            print(line)
    accepted = flags.accepted if flags else None
    print(json.dumps({
        "added": 0 if accepted is None else len(accepted.labels),
        "pending_skipped": 0 if accepted is None else accepted.pending_skipped,
        "rejected_skipped": 0 if accepted is None else accepted.rejected_skipped,
    }))
    return 0


def _train(args: argparse.Namespace, command: str) -> int:
    spec = CandidateSpec(profile=args.profile, mnist=args.mnist, extra=list(args.extra), hold_out=args.hold_out, pen=args.pen,
                         pen_limit=args.pen_limit, limit=args.limit, test_limit=args.test_limit, n_jobs=args.n_jobs,
                         seed=args.seed, command=command)
    bar = tqdm(total=len(STAGES), desc=f"training {args.profile}", unit="stage", file=sys.stderr)

    def on_stage(stage: str, seconds: float) -> None:
        bar.update(1)
        bar.set_postfix_str(stage)
        tqdm.write(f"stage {stage:<10} {seconds:8.1f} s")

    try:
        write_candidate(spec, args.out, log=print, on_stage=on_stage)
    finally:
        bar.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
