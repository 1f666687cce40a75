"""A candidate model's folder: train on MNIST (plus reviewed flags and real pen digits), evaluate,
and write the model, its card and its evaluation files, ready for :mod:`digit_core.promotion`.

    candidate/model.skops          the model (:mod:`digit_core.persistence`)
    candidate/README.md            its card (:mod:`digit_core.card`), naming every data source
    candidate/evaluation.json      the MNIST test figures, timings, sizes
    candidate/confusion_matrix.png, misclassified.png

``scripts/train.py`` and ``scripts/loop.py`` are thin layers over :func:`write_candidate`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import config
from .card import CardFacts, library_versions, make_model_card
from .data import MNIST_FILES, ExtraSamples, file_md5, load_mnist
from .evaluation import evaluate, save_evaluation_pictures
from .flags.dataset import FLAG_HELD_OUT_FRACTION, FlagData, load_flag_data
from .persistence import save_model
from .real_data import PEN_STYLES, UNIPEN_HELD_OUT_SITES, frame_pen_digits, load_pen_digits
from .training import train_model

__all__ = ["CandidateSpec", "write_candidate"]


def _quiet(message: str) -> None:
    pass


@dataclass(frozen=True)
class CandidateSpec:
    """What a candidate is trained on and how.

    Attributes
    ----------
    profile : str
        The training recipe (:data:`digit_core.model.PROFILES`).
    mnist : Path or None
        Folder of the MNIST IDX files (None: OpenML).
    extra : list of str
        Flag folders and Hub flag datasets (``hf://datasets/OWNER/NAME[@REVISION]``); only accepted
        samples train, ``hold_out`` of them are kept out.
    hold_out : float
        Fraction of the accepted flags kept out of training, in [0, 1).
    pen : Path or None
        Real pen digits (``unipen_dev.npz`` layout) drawn as canvas strokes; held-out sites never used.
    pen_limit, limit, test_limit : int or None
        Use only the first N pen digits of the training sites, MNIST training images, test images.
    n_jobs, seed : int
    command : str
        The command line, recorded in the card.
    """

    profile: str = "compact"
    mnist: Path | None = None
    extra: list[str] = field(default_factory=list)
    hold_out: float = FLAG_HELD_OUT_FRACTION
    pen: Path | None = None
    pen_limit: int | None = None
    limit: int | None = None
    test_limit: int | None = None
    n_jobs: int = -1
    seed: int = 0
    command: str = ""


def write_candidate(spec: CandidateSpec, out: Path, *, log: Callable[[str], None] = _quiet,
                    on_stage: Callable[[str, float], None] | None = None) -> dict:
    """Train, evaluate and write a candidate's folder; return its evaluation report.

    Parameters
    ----------
    spec : CandidateSpec
    out : Path
        The folder to write (created).
    log : callable(str)
        Receives one line per step (data read, evaluation report, files written).
    on_stage : callable(stage, seconds), optional
        Called after each training stage.

    Raises
    ------
    DatasetError
        MNIST, a flag source or the pen digits cannot be read.
    """
    started = time.perf_counter()
    train, test = (load_mnist(split, folder=spec.mnist) for split in ("train", "test"))
    train, test = train.head(spec.limit or len(train)), test.head(spec.test_limit or len(test))
    log(f"MNIST: {len(train)} training and {len(test)} test images ({spec.mnist or 'OpenML'})")
    flags = load_flag_data(spec.extra, fraction=spec.hold_out) if spec.extra else None
    if flags is not None:
        for line in flags.report_lines():
            log(line)
    pen, pen_sites = _pen_frames(spec, log) if spec.pen else (None, [])
    result = train_model(train, profile=spec.profile, extra=flags.training if flags else None, drawn=pen,
                         random_state=spec.seed, n_jobs=spec.n_jobs, on_stage=on_stage)
    start = time.perf_counter()
    evaluation = evaluate(result.model, test)
    result.seconds["evaluate"] = time.perf_counter() - start
    log(f"stage {'evaluate':<10} {result.seconds['evaluate']:8.1f} s")
    log(evaluation.report())
    out.mkdir(parents=True, exist_ok=True)
    model_path = save_model(result.model, out / config.MODEL_FILENAME)
    facts = _card_facts(spec, result, evaluation, flags, pen_sites if pen is not None else None)
    make_model_card(facts).save(out / "README.md")
    save_evaluation_pictures(evaluation, test, out)
    report = {**evaluation.summary(), "profile": result.profile.name, "seconds": facts.seconds,
              "n_support_vectors": result.n_support_vectors, "model_bytes": model_path.stat().st_size,
              "extra_counts": flags.training.counts() if flags else {}}
    (out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {model_path} ({model_path.stat().st_size / 1e6:.2f} MB), README.md, evaluation.json, "
        f"confusion_matrix.png, misclassified.png in {out}")
    log(f"total wall time {time.perf_counter() - started:.1f} s")
    return report


def _pen_frames(spec: CandidateSpec, log: Callable[[str], None]) -> tuple[ExtraSamples, list[str]]:
    """The pen digits of the training sites, drawn as canvas strokes in every pen style."""
    pen = load_pen_digits(spec.pen)
    training = ~np.isin(pen.sources, UNIPEN_HELD_OUT_SITES)
    if spec.pen_limit is not None:
        training &= np.cumsum(training) <= spec.pen_limit
    training_sites = pen.subset(training)
    start = time.perf_counter()
    frames, labels = frame_pen_digits(training_sites, random_state=spec.seed, n_jobs=spec.n_jobs)
    sites = sorted(set(training_sites.sources))
    log(f"pen digits: {len(training_sites)} from sites {', '.join(sites)} drawn {len(PEN_STYLES)} ways -> "
        f"{len(labels)} frames in {time.perf_counter() - start:.1f} s (held out: {', '.join(UNIPEN_HELD_OUT_SITES)})")
    return ExtraSamples(frames, labels, sources=[str(spec.pen)] * len(labels)), sites


def _data_md5(spec: CandidateSpec) -> dict[str, str]:
    checksums = {}
    if spec.mnist is not None:
        for name in (*MNIST_FILES["train"], *MNIST_FILES["test"]):
            if (spec.mnist / name).exists():
                checksums[name] = file_md5(spec.mnist / name)
    if spec.pen is not None:
        checksums[spec.pen.name] = file_md5(spec.pen)
    return checksums


def _card_facts(spec: CandidateSpec, result, evaluation, flags: FlagData | None, pen_sites: list[str] | None) -> CardFacts:
    profile = result.profile
    return CardFacts(
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
        command=spec.command,
        seconds={stage: round(seconds, 1) for stage, seconds in result.seconds.items()},
        data_md5=_data_md5(spec),
        n_pen=result.n_drawn,
        pen_source=f"{spec.pen.name}: sites {', '.join(pen_sites)}" if pen_sites is not None else "",
        pen_held_out=list(UNIPEN_HELD_OUT_SITES) if pen_sites is not None else [],
        extra_sources=flags.sources if flags else [],
        extra_held_out_fraction=spec.hold_out if flags else 0.0,
        versions=library_versions(),
    )
