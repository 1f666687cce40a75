"""The whole Hub loop as one command, for a schedule: reviewed flags -> a candidate model -> promoted
only if it is not worse than the model the Space serves.

    python scripts/loop.py --flags hf://datasets/OWNER/digit-flags --repo OWNER/digit-svc

1. Pins the flag dataset's newest revision, so training and the comparison read the same data.
2. Trains a candidate on MNIST plus the accepted flags (as ``scripts/train.py --extra hf://...@REVISION``:
   :func:`digit_core.candidate.write_candidate`; a fixed part of the flags is held out of training).
3. Promotes it (as ``scripts/promote.py``: :func:`digit_core.promotion.promote_candidate`): compared
   with the served model on the MNIST test set, the golden set in the model repository and the
   held-out flags; published and tagged ``promoted`` only if it is not worse on any of them.

The exit status is promotion's: 0 promoted, 1 refused (the table says why), 2 an error.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

from digit_core import config
from digit_core.candidate import CandidateSpec, write_candidate
from digit_core.errors import DigitCoreError
from digit_core.hub import download_dataset
from digit_core.model import PROFILES
from digit_core.promotion import TOLERANCE_POINTS, outcome_lines, promote_candidate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loop.py", description="Train on the reviewed flags and promote the model if it is not worse.")
    parser.add_argument("--flags", required=True, metavar="HF_DATASET", help="the flag dataset, hf://datasets/OWNER/NAME (newest revision) or ...@REVISION")
    parser.add_argument("--repo", required=True, help="Hub model repository the Space serves from, OWNER/NAME")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="compact", help="training recipe (default: compact)")
    parser.add_argument("--mnist", type=Path, default=config.DEFAULT_MNIST_DIR, help="folder of the MNIST IDX files (default: OpenML)")
    parser.add_argument("--pen", type=Path, default=None, metavar="NPZ", help="real pen digits to train on as well (see train.py --pen)")
    parser.add_argument("--golden", type=Path, default=None, metavar="DIR", help="seed the golden set (first promotion only)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE_POINTS, metavar="POINTS", help="see promote.py --tolerance")
    parser.add_argument("--out", type=Path, default=None, help="folder for the candidate (default: a temporary folder)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="train on the first N MNIST training images only (a quick trial)")
    parser.add_argument("--test-limit", type=int, default=None, metavar="N", help="evaluate and compare on the first N MNIST test images only")
    return parser


def main(argv: list[str] | None = None, *, api=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        dataset = download_dataset(args.flags).spec  # hf://datasets/OWNER/NAME@COMMIT
        print(f"flags: {dataset}")
        with tempfile.TemporaryDirectory(prefix="digit-candidate-") as scratch:
            out = args.out or Path(scratch) / "candidate"
            spec = CandidateSpec(profile=args.profile, mnist=args.mnist, extra=[dataset], pen=args.pen, limit=args.limit,
                                 test_limit=args.test_limit, command="python scripts/loop.py " + shlex.join(sys.argv[1:] if argv is None else argv))
            write_candidate(spec, out, log=print)
            report, commit = promote_candidate(out, args.repo, api=api, mnist=args.mnist, test_limit=args.test_limit,
                                               golden=args.golden, tolerance=args.tolerance, log=print)
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in outcome_lines(report, commit, repo_id=args.repo):
        print(line)
    return 1 if report.refused else 0


if __name__ == "__main__":
    sys.exit(main())
