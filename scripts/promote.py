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
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from digit_core import config
from digit_core.card import read_card_facts
from digit_core.data import FLAG_HELD_OUT_FRACTION, Split, load_extra_folder, load_mnist
from digit_core.errors import DatasetError, DigitCoreError
from digit_core.hub import (
    CARD_FILENAME,
    GOLDEN_FOLDER,
    download_dataset,
    download_golden_set,
    download_model,
    move_promoted_tag,
    parse_dataset_spec,
    promoted_revision,
    publish_model,
)
from digit_core.persistence import load_model
from digit_core.promotion import TOLERANCE_POINTS, compare_models, record_promotion
from digit_core.real_data import LABELS_FILENAME, load_labelled_set


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
    from huggingface_hub import HfApi

    api = api or HfApi()
    try:
        candidate_path = args.candidate / config.MODEL_FILENAME
        card_path = args.candidate / CARD_FILENAME
        if not card_path.is_file():
            raise DatasetError(f"{args.candidate} has no {CARD_FILENAME}; promote a folder written by scripts/train.py.")
        candidate = load_model(candidate_path)
        facts = read_card_facts(card_path)
        served_revision = args.served or promoted_revision(args.repo, api=api)
        served = None
        if served_revision is not None:
            served = load_model(download_model(args.repo, revision=served_revision)[0])
        golden = args.golden or (download_golden_set(args.repo, revision=served_revision) if served_revision else None)
        if golden is None:
            raise DatasetError(f"no golden set: {args.repo} has no {GOLDEN_FOLDER}/ at the served revision; "
                               f"seed it with --golden DIR (real drawings and a {LABELS_FILENAME}).")
        test = load_mnist("test", folder=args.mnist)
        if args.test_limit:
            test = test.head(args.test_limit)
        sets = {
            "MNIST test": test,
            "golden set": load_labelled_set(golden),
            "held-out flags": _held_out_flags(args.flags, facts),
        }
        report = compare_models(candidate, served, sets, tolerance=args.tolerance, served_revision=served_revision)
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.table())
    for note in report.notes:
        print(f"note: {note}")
    if report.refused:
        print("refused: the candidate is worse than the served model on " + "; ".join(report.refusals))
        print(json.dumps({"promoted": False, "refusals": report.refusals}))
        return 1
    if args.dry_run:
        print("the candidate may be promoted (dry run: nothing published)")
        return 0
    promoted_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record_promotion(card_path, report, promoted_at=promoted_at, repo_id=args.repo)
    golden_files = {f"{GOLDEN_FOLDER}/{path.relative_to(golden).as_posix()}": path for path in sorted(golden.rglob("*")) if path.is_file()}
    try:
        commit = publish_model(candidate_path, args.repo, api=api, card_path=card_path, extra_files=golden_files,
                               commit_message=f"Promote model ({promoted_at}): not worse than {served_revision or 'nothing served'} on any set")
        move_promoted_tag(args.repo, commit, api=api, message=f"promoted {promoted_at}")
    except (DigitCoreError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"promoted to {args.repo}: the 'promoted' tag points to {commit}")
    print(f"pin it with: DIGIT_MODEL_REPO={args.repo} DIGIT_MODEL_REVISION={commit} (or follow the tag: DIGIT_MODEL_FOLLOW=1)")
    print(commit)
    return 0


def _held_out_flags(specs: list[str] | None, facts: dict) -> Split:
    """The accepted flags held out of the candidate's training, as the frames that were served."""
    fraction = float(facts.get("extra_held_out_fraction") or FLAG_HELD_OUT_FRACTION)
    if specs is None:
        specs = [f"hf://datasets/{s['dataset']}@{s['revision']}" if s.get("dataset") else s["folder"] for s in facts.get("extra_sources") or []]
    images, labels = [], []
    for spec in specs:
        folder = download_dataset(spec).folder if parse_dataset_spec(spec) is not None else Path(spec)
        _, held = load_extra_folder(folder).split_held_out(fraction)
        images.extend(held.images)
        labels.extend(held.labels)
    return Split(np.asarray(images, dtype=np.float32).reshape(-1, 28, 28), np.asarray(labels, dtype=np.uint8))


if __name__ == "__main__":
    sys.exit(main())
