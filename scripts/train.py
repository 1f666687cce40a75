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
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from digit_core import config
from digit_core.card import CardFacts, library_versions, make_model_card
from digit_core.data import FLAG_HELD_OUT_FRACTION, MNIST_FILES, ExtraSamples, file_md5, load_extra_folder, load_mnist
from digit_core.errors import DigitCoreError
from digit_core.evaluation import evaluate, save_evaluation_pictures
from digit_core.hub import download_dataset, parse_dataset_spec
from digit_core.model import PROFILES
from digit_core.persistence import save_model
from digit_core.real_data import PEN_STYLES, UNIPEN_HELD_OUT_SITES, frame_pen_digits, load_pen_digits
from digit_core.training import STAGES, train_model


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
    if args.dry_run:
        try:
            extra, _ = _load_extras(args.extra, hold_out=args.hold_out)
        except DigitCoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(json.dumps({
            "added": 0 if extra is None else len(extra.labels),
            "pending_skipped": 0 if extra is None else extra.pending_skipped,
            "rejected_skipped": 0 if extra is None else extra.rejected_skipped,
        }))
        return 0
    if args.out is None:
        parser.error("--out is required (or use --dry-run)")
    command = "python scripts/train.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        return _train(args, command)
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace, command: str) -> int:
    started = time.perf_counter()
    train = load_mnist("train", folder=args.mnist)
    test = load_mnist("test", folder=args.mnist)
    if args.limit:
        train = train.head(args.limit)
    if args.test_limit:
        test = test.head(args.test_limit)
    print(f"MNIST: {len(train)} training and {len(test)} test images ({args.mnist or 'OpenML'})")
    extra, extra_sources = _load_extras(args.extra, hold_out=args.hold_out)
    if extra is not None:
        extra, _ = extra.split_held_out(args.hold_out)
    pen, pen_sites = _load_pen(args.pen, limit=args.pen_limit, n_jobs=args.n_jobs, seed=args.seed) if args.pen else (None, [])

    bar = tqdm(total=len(STAGES), desc=f"training {args.profile}", unit="stage", file=sys.stderr)

    def on_stage(stage: str, seconds: float) -> None:
        bar.update(1)
        bar.set_postfix_str(stage)
        tqdm.write(f"stage {stage:<10} {seconds:8.1f} s")

    result = train_model(train, profile=args.profile, extra=extra, drawn=pen, random_state=args.seed, n_jobs=args.n_jobs, on_stage=on_stage)
    bar.close()

    start = time.perf_counter()
    evaluation = evaluate(result.model, test)
    result.seconds["evaluate"] = time.perf_counter() - start
    print(f"stage {'evaluate':<10} {result.seconds['evaluate']:8.1f} s")
    print(evaluation.report())

    args.out.mkdir(parents=True, exist_ok=True)
    model_path = save_model(result.model, args.out / config.MODEL_FILENAME)
    data_md5 = {}
    if args.mnist is not None:
        for name in (*MNIST_FILES["train"], *MNIST_FILES["test"]):
            if (args.mnist / name).exists():
                data_md5[name] = file_md5(args.mnist / name)
    if args.pen is not None:
        data_md5[args.pen.name] = file_md5(args.pen)
    profile = result.profile
    facts = CardFacts(
        profile=profile.name,
        description=profile.description,
        accuracy=evaluation.accuracy,
        ece=evaluation.ece,
        n_test=evaluation.n,
        n_fit=result.n_fit,
        n_calibration=result.n_calibration,
        n_extra=result.n_extra,
        n_support_vectors=result.n_support_vectors,
        C=profile.C,
        reduce=f"PCA({profile.pca_components})" if profile.pca_components else "all 392 features",
        command=command,
        seconds={stage: round(seconds, 1) for stage, seconds in result.seconds.items()},
        data_md5=data_md5,
        n_pen=result.n_drawn,
        pen_source=f"{args.pen.name}: sites {', '.join(pen_sites)}" if pen is not None else "",
        pen_held_out=list(UNIPEN_HELD_OUT_SITES) if pen is not None else [],
        extra_sources=extra_sources,
        extra_held_out_fraction=args.hold_out if extra_sources else 0.0,
        versions=library_versions(),
    )
    make_model_card(facts).save(args.out / "README.md")
    save_evaluation_pictures(evaluation, test, args.out)
    report = {**evaluation.summary(), "profile": profile.name, "seconds": facts.seconds, "n_support_vectors": result.n_support_vectors,
              "model_bytes": model_path.stat().st_size, "extra_counts": extra.counts() if extra else {}}
    (args.out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    total = time.perf_counter() - started
    print(f"wrote {model_path} ({model_path.stat().st_size / 1e6:.2f} MB), README.md, evaluation.json, "
          f"confusion_matrix.png, misclassified.png in {args.out}")
    print(f"total wall time {total:.1f} s")
    return 0


def _load_pen(path: Path, *, limit: int | None, n_jobs: int, seed: int) -> tuple[ExtraSamples, list[str]]:
    pen = load_pen_digits(path)
    training = ~np.isin(pen.sources, UNIPEN_HELD_OUT_SITES)
    if limit is not None:
        training &= np.cumsum(training) <= limit
    training_sites = pen.subset(training)
    start = time.perf_counter()
    frames, labels = frame_pen_digits(training_sites, random_state=seed, n_jobs=n_jobs)
    sites = sorted(set(training_sites.sources))
    print(f"pen digits: {len(training_sites)} from sites {', '.join(sites)} drawn {len(PEN_STYLES)} ways -> "
          f"{len(labels)} frames in {time.perf_counter() - start:.1f} s (held out: {', '.join(UNIPEN_HELD_OUT_SITES)})")
    return ExtraSamples(frames, labels, sources=[str(path)] * len(labels)), sites


def _load_extras(specs: list[str], *, hold_out: float) -> tuple[ExtraSamples | None, list[dict]]:
    """Every accepted sample of the folders and Hub datasets, and what each source gave (for the card)."""
    if not specs:
        return None, []
    parts, described = [], []
    for spec in specs:
        if parse_dataset_spec(spec) is not None:
            snapshot = download_dataset(spec)
            print(f"Hub dataset {snapshot.repo_id} at revision {snapshot.revision} ({snapshot.folder})")
            part, where = load_extra_folder(snapshot.folder), {"dataset": snapshot.repo_id, "revision": snapshot.revision}
        else:
            part, where = load_extra_folder(spec), {"folder": str(spec)}
        trained, held = part.split_held_out(hold_out)
        parts.append(part)
        described.append({**where, "accepted": len(part.labels), "trained_on": len(trained.labels), "held_out": len(held.labels),
                        "pending_skipped": part.pending_skipped, "rejected_skipped": part.rejected_skipped})
    images = np.concatenate([p.images for p in parts])
    labels = np.concatenate([p.labels for p in parts])
    # Drop exact duplicates across folders too (same frame, same label).
    keys = {}
    for index, (frame, label) in enumerate(zip(images, labels)):
        keys.setdefault((int(label), np.round(frame * 255).astype(np.uint8).tobytes()), index)
    keep = sorted(keys.values())
    sources = [source for p in parts for source in p.sources]
    merged = ExtraSamples(
        images=images[keep],
        labels=labels[keep],
        sources=[sources[i] for i in keep],
        skipped=[s for p in parts for s in p.skipped],
        duplicates=sum(p.duplicates for p in parts) + len(labels) - len(keep),
        pending_skipped=sum(p.pending_skipped for p in parts),
        rejected_skipped=sum(p.rejected_skipped for p in parts),
    )
    for where, reason in merged.skipped:
        print(f"skipped {where}: {reason}")
    counts = ", ".join(f"{digit}: {count}" for digit, count in merged.counts().items())
    held = len(merged.split_held_out(hold_out)[1].labels)
    print(f"extra drawings: {len(merged.labels)} added ({counts}), of which {held} are held out of training to compare "
          f"models on; {merged.duplicates} duplicates dropped, {len(merged.skipped)} skipped; left out until reviewed: "
          f"{merged.pending_skipped} pending, {merged.rejected_skipped} rejected")
    return merged, described


if __name__ == "__main__":
    sys.exit(main())
