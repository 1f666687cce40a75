"""Flagged drawings: count them by review status, and review the pending ones.

    python scripts/flags.py flagged/                      # counts, per digit, a contact sheet
    python scripts/flags.py flagged/ --json               # {"pending": n, "accepted": n, "rejected": n}
    python scripts/flags.py review flagged/               # contact sheet of pending samples, suspicious first
    python scripts/flags.py review flagged/ --accept 3f2a 9c41 --reject 77de
    python scripts/flags.py review flagged/ --accept unsuspicious --reject suspicious

Only accepted samples are trained on (``scripts/train.py --extra``). Ids may be shortened to any
unique prefix; ``all``, ``suspicious`` and ``unsuspicious`` select pending samples in bulk.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from digit_core import config
from digit_core.errors import DigitCoreError
from digit_core.flags import STATUSES, FlagStore, read_flags
from digit_core.flags.gate import SELECTORS, contact_sheet, review_order, select, status_counts, summarise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flags.py", description="Count flagged drawings by review status.")
    parser.add_argument("folder", type=Path, nargs="?", default=config.FLAG_DIR, help="flag folder (default: DIGIT_FLAG_DIR or flagged/)")
    parser.add_argument("--sheet", type=Path, default=Path("flags.png"), help="where to write the contact sheet PNG")
    parser.add_argument("--json", action="store_true", help='print only {"pending": n, "accepted": n, "rejected": n}')
    return parser


def build_review_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flags.py review", description="Review pending flags: a contact sheet, then accept or reject by id or in bulk."
    )
    parser.add_argument("folder", type=Path, nargs="?", default=config.FLAG_DIR, help="flag folder (default: DIGIT_FLAG_DIR or flagged/)")
    parser.add_argument("--sheet", type=Path, default=Path("review.png"), help="where to write the contact sheet of pending samples")
    parser.add_argument("--accept", nargs="+", default=[], metavar="ID", help=f"ids (or unique prefixes) to accept, or one of {', '.join(SELECTORS)}")
    parser.add_argument("--reject", nargs="+", default=[], metavar="ID", help=f"ids (or unique prefixes) to reject, or one of {', '.join(SELECTORS)}")
    parser.add_argument("--reason", default=None, help="a note stored with the decisions")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["review"]:
        return review(build_review_parser().parse_args(argv[1:]))
    args = build_parser().parse_args(argv)
    if not args.folder.is_dir():
        print(f"error: flag folder {args.folder} does not exist.", file=sys.stderr)
        return 2
    samples = read_flags(args.folder)
    summary = summarise(samples)
    if args.json:
        print(json.dumps({status: summary[status] for status in STATUSES}))
        return 0
    print(f"{summary['samples']} flagged samples in {args.folder}: "
          + ", ".join(f"{summary[status]} {status}" for status in STATUSES))
    print("per digit: " + ", ".join(f"{d}: {n}" for d, n in summary["per_label"].items()))
    print("verdicts: " + ", ".join(f"{v}: {n}" for v, n in summary["verdicts"].items()))
    for pair, count in summary["wrong_pairs"].items():
        print(f"  read {pair.split('->')[0]}, was {pair.split('->')[1]}: {count}")
    if samples:
        contact_sheet(samples).save(args.sheet)
        print(f"contact sheet: {args.sheet}")
    return 0


def review(args: argparse.Namespace) -> int:
    if not args.folder.is_dir():
        print(f"error: flag folder {args.folder} does not exist.", file=sys.stderr)
        return 2
    samples = read_flags(args.folder)
    try:
        accept = select(samples, args.accept)
        reject = select(samples, args.reject)
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    both = set(accept) & set(reject)
    if both:
        print(f"error: {len(both)} samples are both accepted and rejected (for example {sorted(both)[0][:8]}); choose one.", file=sys.stderr)
        return 2
    if accept or reject:
        store = FlagStore(args.folder, writer="review")
        try:
            store.review(accept, "accepted", reason=args.reason)
            store.review(reject, "rejected", reason=args.reason)
        except DigitCoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"accepted {len(accept)}, rejected {len(reject)}")
        samples = read_flags(args.folder)
    queue = review_order(samples)
    if queue:
        contact_sheet(queue).save(args.sheet)
        print(f"{len(queue)} pending (suspicious first); contact sheet, in this order: {args.sheet}")
        for sample in queue:
            read = sample.metadata.get("predicted")
            note = "; ".join(sample.suspicion)
            print(f"  {sample.id[:8]}  label {sample.label}  read {'-' if read is None else read}  {sample.metadata.get('source', '')}"
                  + (f"  SUSPICIOUS: {note}" if note else ""))
    else:
        print("nothing pending")
    print(json.dumps(status_counts(samples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
