"""Publish a candidate model only if it reads as well as the model the Space serves, on the same data.

    python scripts/promote.py candidate/ --repo OWNER/digit-svc --mnist ../shared/mnist

Both models read, in one run: the MNIST test set, the golden set of real drawings kept in the model
repository (``golden/``; seed it once with ``--golden DIR``) and the accepted flags held out of the
candidate's training (the sources its card names, or ``--flags``). The side-by-side table goes into
the candidate's card. If the candidate is worse than the served model on any set by more than the
tolerance (``--tolerance`` points, at least one image), it is refused: the table and the reason are
printed, nothing is published, and the exit status is 1. Otherwise the model, its card, pictures and
the golden set go to the repository in one commit, the ``promoted`` tag moves to it, and the last
line printed is the revision to pin in ``DIGIT_MODEL_REVISION``. The served model is the one the
``promoted`` tag points to (``--served REVISION`` to choose another); with none, the first
candidate is promoted on its own figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digit_core import config
from digit_core.errors import DigitCoreError
from digit_core.promotion import TOLERANCE_POINTS, outcome_lines, promote_candidate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promote.py", description="Compare a candidate with the served model; publish it only if it is not worse.")
    parser.add_argument("candidate", type=Path, help="folder written by scripts/train.py (model.skops, README.md, pictures)")
    parser.add_argument("--repo", required=True, help="Hub model repository the Space serves from, OWNER/NAME")
    parser.add_argument("--served", default=None, metavar="REVISION", help="revision of the served model (default: the 'promoted' tag)")
    parser.add_argument("--mnist", type=Path, default=config.DEFAULT_MNIST_DIR, help="folder of the MNIST IDX files (default: OpenML)")
    parser.add_argument("--test-limit", type=int, default=None, metavar="N", help="compare on the first N MNIST test images only")
    parser.add_argument("--golden", type=Path, default=None, metavar="DIR",
                        help="golden set (images and labels.csv) to compare on and publish (default: the served revision's golden/)")
    parser.add_argument("--flags", action="append", default=None, metavar="DIR_OR_HF",
                        help="flag folders or hf://datasets/... whose held-out accepted samples are compared on "
                        "(default: the sources named in the candidate's card)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE_POINTS, metavar="POINTS",
                        help=f"percentage points the candidate may lose on a set (default {TOLERANCE_POINTS}; at least one image)")
    parser.add_argument("--dry-run", action="store_true", help="compare and print the table; publish nothing")
    return parser


def main(argv: list[str] | None = None, *, api=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report, commit = promote_candidate(args.candidate, args.repo, api=api, served_revision=args.served, mnist=args.mnist,
                                           test_limit=args.test_limit, golden=args.golden, flags=args.flags,
                                           tolerance=args.tolerance, dry_run=args.dry_run, log=print)
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in outcome_lines(report, commit, repo_id=args.repo):
        print(line)
    return 1 if report.refused else 0


if __name__ == "__main__":
    sys.exit(main())
