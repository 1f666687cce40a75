"""Evaluate a model: the MNIST test set, labelled image sets, and real handwriting held out from training.

    python scripts/evaluate.py --mnist ../shared/mnist
    python scripts/evaluate.py --set my_scans/            # images + labels.csv (file,label[,boxes])
    python scripts/evaluate.py --mnist ../shared/mnist --real ../shared/real   # the README's table
    python scripts/evaluate.py --cross-site ../shared/real     # the yardstick (fold models train on ../shared/mnist)

Each set is read the way the app reads it and printed beside the textbook-framing baseline, with
per-digit recall; a confusion matrix and a gallery of misreadings are written to --out. ``--real``
builds the held-out sets first (UNIPEN sites never trained on, drawn as canvas strokes; cheques of the
held-out half, whole and cut into digits) under ``--out/sets``. The last line of standard output is
JSON: ``{"accuracy", "ece", "n"}`` for MNIST (when given) and ``"sets"``: one summary per set.

``--cross-site`` is the yardstick (:mod:`digit_core.cross_site`): every UNIPEN pen site read by a
small model trained without it (MNIST subset from ``--mnist`` plus the other sites' pen digits),
digits and numbers, worst site first; the cheques in folds by document read by ``--model`` (amounts,
their digits, and the whole-reading confidence cross-fitted across folds); USPS scans as uploads.
Reliability diagrams go to ``--out``. The fold models' MNIST training images come from
``--fold-mnist`` (default: ``--mnist``, else the ``mnist`` folder beside the ``--cross-site`` folder).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digit_core import config
from digit_core.data import load_mnist
from digit_core.errors import DatasetError, DigitCoreError
from digit_core.evaluation import evaluate, evaluate_set, not_a_digit_rates, save_evaluation_pictures, save_set_pictures
from digit_core.persistence import load_model
from digit_core.real_data import (
    LABELS_FILENAME,
    PEN_STYLES,
    UNIPEN_HELD_OUT_SITES,
    LabelledSet,
    PenDigits,
    PenStyle,
    document_key,
    draw_pen_number,
    held_out,
    load_labelled_set,
    load_pen_digits,
    load_pen_letters,
)
from digit_core.confidence import FEATURE_NAMES, cross_fitted_confidence, fit_on_readings, sure_readings
from digit_core.cross_site import FoldRecipe, letter_table_lines, read_cheques, read_leave_one_site_out, read_scans, table_lines, usps_uploads
from digit_core.evaluation import reliability_diagram
from digit_core.rejection import letter_drawings, scribble_drawings
from digit_core.strokes import draw_on_canvas, draw_strokes

#: Where the real handwriting lies inside ``--real``.
PEN_FILE = "unipen_dev.npz"
CHEQUE_FOLDER = "orand_car_a_train"
USPS_FILE = "usps_train.npz"
LETTERS_FILE = "unipen_letters_dev.npz"
#: Numbers drawn from the held-out pen digits for the ``pen_numbers`` set.
PEN_NUMBERS = 300


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evaluate.py", description="Evaluate a digit model on MNIST and on labelled image sets.")
    parser.add_argument("--model", type=Path, default=config.STARTER_MODEL_PATH, help="model file (default: the bundled starter model)")
    parser.add_argument("--mnist", type=Path, default=None, help="folder of the four MNIST IDX files: evaluate on its test set")
    parser.add_argument("--set", type=Path, action="append", default=[], metavar="DIR", dest="sets",
                        help="folder of images with labels.csv (file,label[,boxes]); repeatable")
    parser.add_argument("--real", type=Path, default=None, metavar="DIR",
                        help=f"folder holding {PEN_FILE} and {CHEQUE_FOLDER}/: evaluate on their held-out writers and documents")
    parser.add_argument("--out", type=Path, default=Path("evaluation"), help="folder for pictures (and --real's sets)")
    parser.add_argument("--canvas", type=int, default=1000, metavar="N",
                        help="with --mnist: also read N test digits redrawn as canvas strokes (default 1000)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on the first N images of each set (and, with --cross-site, N cheques) only")
    _add_cross_site_options(parser.add_argument_group("cross-site yardstick"))
    return parser


def _add_cross_site_options(group) -> None:
    recipe = FoldRecipe()
    group.add_argument("--cross-site", type=Path, default=None, metavar="DIR",
                       help=f"folder holding {PEN_FILE}, {CHEQUE_FOLDER}/ and {USPS_FILE}: leave-one-site-out over the pen sites, "
                       "cheques in folds by document, USPS scans as uploads")
    group.add_argument("--fold-mnist", type=Path, default=None, metavar="DIR",
                       help="MNIST folder the fold models train on (default: --mnist, else DIR/../mnist)")
    group.add_argument("--fold-mnist-size", type=int, default=recipe.mnist, metavar="N",
                       help=f"MNIST training images per fold model (default {recipe.mnist})")
    group.add_argument("--fold-pen-per-site", type=int, default=recipe.pen_per_site, metavar="N",
                       help=f"pen digits of each training site drawn for the fold models (default {recipe.pen_per_site})")
    group.add_argument("--fold-without-pen", action="store_true", help="fold models train on MNIST alone (a variant to compare)")
    group.add_argument("--fold-sites", default=None, metavar="A,B,..",
                       help="hold these sites out together in one fold instead of leave-one-site-out")
    group.add_argument("--read-with-model", action="store_true",
                       help="with --fold-sites: read those sites with --model itself (it must never have seen them) instead of training")
    group.add_argument("--per-site", type=int, default=100, metavar="N",
                       help="digits read per site (default 100; all of a smaller site; 0 with --numbers-per-site 0: skip the pen sites)")
    group.add_argument("--numbers-per-site", type=int, default=20, metavar="N", help="numbers of 2-5 digits drawn per site (default 20)")
    group.add_argument("--scans-per-site", type=int, default=100, metavar="N",
                       help="the site's digits read as 16x16 binary scans stretched to fill the box, enlarged (default 100; 0: none)")
    group.add_argument("--letters-per-site", type=int, default=100, metavar="N",
                       help=f"the site's writers' letters drawn and read, from {LETTERS_FILE} when it is there (default 100; 0: none)")
    group.add_argument("--cheque-folds", type=int, default=5, metavar="K", help="folds by document for the cheques (default 5; 0: skip the cheques)")
    group.add_argument("--usps", type=int, default=1000, metavar="N", help="USPS scans read as uploads (default 1000; 0: none)")
    group.add_argument("--n-jobs", type=int, default=2, help="folds trained at once (default 2)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cross_site is not None:
        return _cross_site(args)
    if args.mnist is None and not args.sets and args.real is None:
        args.mnist = config.DEFAULT_MNIST_DIR
        if args.mnist is None:
            print("error: nothing to evaluate; give --mnist DIR, --set DIR or --real DIR.", file=sys.stderr)
            return 2
    try:
        model = load_model(args.model)
        sets = [load_labelled_set(folder) for folder in args.sets]
        if args.real is not None:
            sets.extend(build_real_sets(args.real, args.out / "sets"))
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model: {args.model}")
    result: dict = {}
    rows = []
    if args.mnist is not None:
        try:
            test = load_mnist("test", folder=args.mnist)
        except DigitCoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.limit:
            test = test.head(args.limit)
        evaluation = evaluate(model, test)
        print(evaluation.report())
        confusion, gallery = save_evaluation_pictures(evaluation, test, args.out)
        print(f"wrote {confusion} and {gallery}")
        result.update(evaluation.summary())
        rows.append(("mnist_test", "digits", evaluation.n, evaluation.accuracy, None))
        if args.canvas > 0:
            sets.insert(0, write_canvas_set(test, args.out / "sets" / "mnist_canvas", n=min(args.canvas, len(test))))
    summaries = []
    for labelled in sets:
        if args.limit:
            labelled = LabelledSet(labelled.folder, labelled.items[: args.limit])
        evaluation = evaluate_set(model, labelled)
        print(evaluation.report())
        confusion, gallery = save_set_pictures(evaluation, args.out)
        print(f"  wrote {confusion} and {gallery}")
        summaries.append(evaluation.summary())
        kind = "digits" if evaluation.single_digits else "numbers (exact)"
        rows.append((evaluation.name, kind, evaluation.n, evaluation.accuracy, evaluation.baseline_accuracy))
    print()
    print("| set | scored as | images | this model | textbook framing |")
    print("| --- | --- | --- | --- | --- |")
    for name, kind, n, accuracy, baseline in rows:
        print(f"| {name} | {kind} | {n} | {accuracy:.2%} | {'-' if baseline is None else f'{baseline:.2%}'} |")
    if summaries:
        result["sets"] = summaries
    if args.real is not None:
        # What is not a digit: letters in Hershey fonts the rejector never trained on, and scribbles,
        # drawn on the canvas. (Real digits wrongly answered "not a digit": each set's "rejected".)
        letters, scribbles = not_a_digit_rates(model, letter_drawings(copies=2)), not_a_digit_rates(model, scribble_drawings(300))
        print(f"not a digit: {letters[0]:.2%} of 416 letters (held-out fonts) and {scribbles[0]:.2%} of 300 scribbles answered "
              f"\"not a digit\", {letters[1]:.2%} and {scribbles[1]:.2%} read with the note that they may not be digits")
        result["not_a_digit"] = {"letters": round(letters[0], 4), "scribbles": round(scribbles[0], 4),
                                 "letters_noted": round(letters[1], 4), "scribbles_noted": round(scribbles[1], 4)}
    print(json.dumps(result))
    return 0


def write_canvas_set(test, folder: Path, *, n: int, seed: int = 2026) -> LabelledSet:
    """``n`` MNIST test digits redrawn as a person draws on the 400x400 canvas (PNG, ``labels.csv``):
    the digit's 20 px box 100-300 px tall, a brush from 3 px to a fifth of that, anywhere on the
    canvas, on transparent or white paper."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in rng.choice(len(test), n, replace=False):
        height = int(rng.integers(100, 300))
        drawing = draw_on_canvas(
            test.images[i],
            digit_height=height,
            brush=float(rng.uniform(3, height / 5)),
            centre=(int(rng.integers(0, 400)), int(rng.integers(0, 400))),
            background=str(rng.choice(["transparent", "white"])),
        )
        name = f"mnist_test_{i:05d}_{test.labels[i]}.png"
        drawing.save(folder / name)
        rows.append((name, str(test.labels[i]), None))
    return write_labels(folder, rows)


def build_real_sets(real: Path, out: Path) -> list[LabelledSet]:
    """The held-out sets of ``real`` (``unipen_dev.npz`` and ``orand_car_a_train/``), written under ``out``.

    - ``unipen_heldout``: every digit of the UNIPEN sites never trained on, drawn on a 400x400 canvas.
    - ``pen_numbers``: 300 numbers of 2-5 of those digits drawn on the app's 800x400 canvas.
    - ``cheque_amounts``: the held-out half of the cheques (by document), whole; read by exact string.
    - ``cheque_digits``: the same cheques' digits, each cut out by its box.
    """
    sets = []
    pen_path = real / PEN_FILE
    if pen_path.is_file():
        pen = load_pen_digits(pen_path)
        held = pen.subset(np.isin(pen.sources, UNIPEN_HELD_OUT_SITES))
        sets.append(write_pen_set(held, out / "unipen_heldout"))
        sets.append(write_pen_number_set(held, out / "pen_numbers", count=PEN_NUMBERS))
    cheques_path = real / CHEQUE_FOLDER
    if cheques_path.is_dir():
        cheques = load_labelled_set(cheques_path).where(lambda item: held_out(document_key(item)))
        # The amounts are read where they lie: labels.csv names them by absolute path.
        sets.append(write_labels(out / "cheque_amounts", ((item.path.resolve(), item.label, item.boxes) for item in cheques.items)))
        sets.append(write_crop_set(cheques, out / "cheque_digits"))
    if not sets:
        raise DatasetError(f"{real} holds neither {PEN_FILE} nor {CHEQUE_FOLDER}/.")
    return sets


# --- data writers: the labelled sets this script measures on --------------------------------------


def write_pen_set(
    pen: PenDigits,
    folder: str | Path,
    *,
    style: PenStyle = PEN_STYLES[0],
    random_state: int = 0,
) -> LabelledSet:
    """Draw pen digits as canvas PNGs (RGBA, transparent paper, as the sketchpad sends) into ``folder``
    with a ``labels.csv``, one image per digit, height and brush drawn from ``style``.

    Returns the written set.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(random_state)
    rows = []
    for index in range(len(pen)):
        drawing = draw_strokes(pen.strokes(index), height=rng.uniform(*style.height), brush=rng.uniform(*style.brush))
        name = f"{pen.sources[index]}_{index:05d}_{pen.labels[index]}.png"
        Image.fromarray(drawing, "RGBA").save(folder / name)
        rows.append((name, str(pen.labels[index]), None))
    return write_labels(folder, rows)


def write_pen_number_set(pen: PenDigits, folder: str | Path, *, count: int, random_state: int = 0) -> LabelledSet:
    """Write ``count`` numbers of 2-5 pen digits drawn on an 800x400 canvas (digits 100-220 px
    tall, a 12-24 px brush, 0.1-0.5 digit heights between them) as PNGs with a ``labels.csv``
    holding each number."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(random_state)
    rows = []
    for number in range(count):
        indices = rng.choice(len(pen), int(rng.integers(2, 6)), replace=False)
        drawing = draw_pen_number(
            pen, indices, height=rng.uniform(100, 220), brush=rng.uniform(12, 24), gaps=rng.uniform(0.1, 0.5, len(indices) - 1)
        )
        name = f"number_{number:04d}.png"
        Image.fromarray(drawing, "RGBA").save(folder / name)
        rows.append((name, "".join(str(pen.labels[i]) for i in indices), None))
    return write_labels(folder, rows)


def write_crop_set(numbers: LabelledSet, folder: str | Path) -> LabelledSet:
    """Cut every boxed digit out of a set of numbers into its own image: a single-digit set in
    ``folder`` (PNG crops, ``labels.csv``). Numbers without boxes are passed over."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for item in numbers.items:
        if item.boxes is None:
            continue
        with Image.open(item.path) as image:
            image.load()
            for position, ((x, y, w, h), digit) in enumerate(zip(item.boxes, item.label)):
                name = f"{item.path.name.split('.')[0]}_{position}_{digit}.png"
                image.crop((x, y, x + w, y + h)).save(folder / name)
                rows.append((name, digit, None))
    return write_labels(folder, rows)


def write_labels(folder: str | Path, items) -> LabelledSet:
    """Write ``folder/labels.csv`` for images already in place and return the set.

    Parameters
    ----------
    folder : str or Path
    items : iterable of (file, label, boxes)
        ``file`` relative to ``folder`` (or absolute), ``label`` a digit string, ``boxes`` a sequence of
        ``(x, y, w, h)`` per digit or None.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LABELS_FILENAME, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "boxes"])
        for file, label, boxes in items:
            writer.writerow([str(file), str(label), json.dumps([list(box) for box in boxes]) if boxes else ""])
    return load_labelled_set(folder)


def _cross_site(args: argparse.Namespace) -> int:
    """The yardstick: per-site tables worst first, scans, cheque folds with calibration figures."""
    started = time.perf_counter()
    recipe = FoldRecipe(mnist=args.fold_mnist_size, pen_per_site=args.fold_pen_per_site, pen=not args.fold_without_pen)
    together = args.fold_sites.split(",") if args.fold_sites else None
    if args.read_with_model and together is None:
        print("error: --read-with-model reads only sites the model never saw; name them with --fold-sites.", file=sys.stderr)
        return 2
    try:
        model = load_model(args.model)
        pen = load_pen_digits(args.cross_site / PEN_FILE)
        with_letters = args.letters_per_site > 0 and (args.cross_site / LETTERS_FILE).is_file()
        letters = load_pen_letters(args.cross_site / LETTERS_FILE) if with_letters else None
        skip = args.read_with_model or (args.per_site == 0 and args.numbers_per_site == 0)
        mnist = None if skip else load_mnist("train", folder=args.fold_mnist or args.mnist or args.cross_site.parent / "mnist")
    except DigitCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model: {args.model}; fold models: {'--model itself' if args.read_with_model else recipe}")
    args.out.mkdir(parents=True, exist_ok=True)
    result = {}
    if args.per_site > 0 or args.numbers_per_site > 0:
        result["sites"] = _pen_sites(args, pen, letters, mnist, model, recipe, together)
        print(f"pen sites read in {time.perf_counter() - started:.0f} s")
    if args.usps > 0 and (args.cross_site / USPS_FILE).is_file():
        result["usps"] = _usps(model, args.cross_site / USPS_FILE, args.usps, args.out)
    if args.cheque_folds > 0 and (args.cross_site / CHEQUE_FOLDER).is_dir():
        cheques = load_labelled_set(args.cross_site / CHEQUE_FOLDER)
        cheques = LabelledSet(cheques.folder, cheques.items[: args.limit]) if args.limit else cheques
        result["cheques"] = _cheques(model, cheques, args.cheque_folds, args.out)
    print(f"wrote reliability diagrams into {args.out}; total {time.perf_counter() - started:.0f} s")
    print(json.dumps(result))
    return 0


def _pen_sites(args, pen, letters, mnist, model, recipe, together) -> dict:
    sites = read_leave_one_site_out(pen, mnist, recipe=recipe, digits=args.per_site, numbers=args.numbers_per_site,
                                    letters=letters, n_letters=args.letters_per_site, scans=args.scans_per_site,
                                    held_out_together=together, model=model if args.read_with_model else None, n_jobs=args.n_jobs)
    digits, numbers, others = [s.digits for s in sites], [s.numbers for s in sites], [s.letters for s in sites]
    print("\n".join(["", *table_lines("site: single digits drawn", digits), "", *table_lines("site: numbers of 2-5 digits (exact)", numbers)]))
    if args.scans_per_site > 0:
        print("\n".join(["", *table_lines("site: digits as 16x16 binary scans, stretched, enlarged", [s.scans for s in sites])]))
    if letters is not None:
        print("\n".join(["", *letter_table_lines("site: its writers' letters drawn", others)]))
    for name, tallies in (("drawn_digits", digits), ("drawn_numbers", numbers)):
        merged = tallies[0]
        for tally in tallies[1:]:
            merged = merged.merged(tally, name)
        reliability_diagram(merged.confidences, merged.correct, title=name.replace("_", " ")).save(args.out / f"reliability_{name}.png")
    return {s.digits.name: {"digits": _rates(s.digits), "numbers": _rates(s.numbers), **({"scans": _rates(s.scans)} if s.scans.n else {}),
                            **({"letters": {"n": s.letters.n, "refused": round(s.letters.rate("refused"), 4), "noted": round(s.letters.rate("noted"), 4)}}
                               if s.letters.n else {})} for s in sites}


def _rates(tally) -> dict:
    return {"n": tally.n, **{v: round(tally.rate(v), 4) for v in ("right", "refused", "wrong")}}


def _usps(model, path: Path, n: int, out: Path) -> dict:
    with np.load(path) as data:
        images, labels = data["images"][:n], data["labels"][:n]
    tally, split = read_scans(model, usps_uploads(images), labels)
    print("\n".join(["", *table_lines("scans (USPS, upscaled x8, segmentation on)", [tally])[:3]]))
    print(f"  {split} of {tally.n} single scans read as more than one digit")
    reliability_diagram(tally.confidences, tally.correct, title="USPS scans").save(out / "reliability_usps.png")
    return {**_rates(tally), "split": split}


def _cheques(model, cheques, k: int, out: Path) -> dict:
    read = read_cheques(model, cheques, k=k)
    print("\n".join(["", *table_lines("cheque fold: amounts (exact)", read.amounts), "",
                     *table_lines("cheque fold: digits cut by their boxes", read.digits)]))
    n_amounts = sum(t.n for t in read.amounts)
    shipped = np.concatenate([np.asarray(t.confidences) for t in read.amounts])
    shipped_correct = np.concatenate([np.asarray(t.correct, dtype=bool) for t in read.amounts])
    crossed = cross_fitted_confidence(read.readings, read.correct, read.folds)
    figures = {}
    for name, confidence, correct in (("shipped", shipped, shipped_correct), ("cross_fitted", crossed, read.correct)):
        share, accuracy = sure_readings(confidence, correct, n_amounts)
        figures[name] = {"share_at_0.9": round(share, 4), "accuracy_at_0.9": round(accuracy, 4)}
        print(f"amounts >= 0.9 sure ({name} confidence): {share:.2%} of {n_amounts} amounts, {accuracy:.2%} of them right")
        reliability_diagram(confidence, correct, title=f"cheque amounts ({name})").save(out / f"reliability_amounts_{name}.png")
    intercept, weights = fit_on_readings(read.readings, read.correct)
    print(f"map fitted on all {len(read.correct)} amounts read: CONFIDENCE_MAP = ({intercept:.4g}, ({', '.join(f'{w:.4g}' for w in weights)}))"
          f"  # {', '.join(FEATURE_NAMES)}")
    return figures


if __name__ == "__main__":
    sys.exit(main())
