"""Proving a candidate model better than the served one, on the same data, before the Space serves it.

:func:`compare_models` scores both models on each evaluation set (MNIST test frames, the golden set
of real drawings read as the app reads them, the accepted flags held out of training) and gives a
:class:`PromotionReport`: the side-by-side table and, when the candidate is worse beyond the
tolerance on any set, the reasons to refuse it. :func:`record_promotion` writes the table into the
candidate's card (``model-index`` results for every set, and a ``promotion`` block the app shows).
:func:`promote_candidate` is the whole step for a folder written by :mod:`digit_core.candidate`:
compare, refuse or publish, move the ``promoted`` tag.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard

from . import config
from .card import read_card_facts
from .data import Split, load_mnist
from .errors import DatasetError
from .evaluation import evaluate, evaluate_set
from .flags.dataset import FLAG_HELD_OUT_FRACTION, held_out_flags
from .hub import (
    CARD_FILENAME,
    GOLDEN_FOLDER,
    download_golden_set,
    download_model,
    move_promoted_tag,
    promoted_revision,
    publish_model,
)
from .persistence import load_model
from .real_data import LABELS_FILENAME, LabelledSet, load_labelled_set

__all__ = [
    "SetComparison",
    "PromotionReport",
    "compare_models",
    "score",
    "record_promotion",
    "promote_candidate",
    "outcome_lines",
    "TOLERANCE_POINTS",
]

#: The candidate may read a set this many percentage points worse than the served model (noise)...
TOLERANCE_POINTS = 0.1
#: ...or, on a small set, one image worse: 100 / n points.
_ONE_IMAGE = 100.0


@dataclass(frozen=True)
class SetComparison:
    """Both models' accuracy on one set.

    Attributes
    ----------
    name : str
    n : int
        Images in the set.
    candidate : float
        The candidate's accuracy, in [0, 1].
    served : float or None
        The served model's, or None when nothing is served yet.
    """

    name: str
    n: int
    candidate: float
    served: float | None

    @property
    def change_points(self) -> float | None:
        """Candidate minus served, in percentage points."""
        return None if self.served is None else 100.0 * (self.candidate - self.served)

    def allowed_drop_points(self, tolerance: float) -> float:
        """How many points worse the candidate may be here: the tolerance, or one image on a small set."""
        return max(tolerance, _ONE_IMAGE / max(self.n, 1))


@dataclass
class PromotionReport:
    """The comparison of a candidate with the served model, set by set.

    Attributes
    ----------
    comparisons : list of SetComparison
    tolerance : float
        Percentage points the candidate may lose on a set (at least one image's worth).
    served_revision : str or None
        The commit of the served model compared against.
    """

    comparisons: list[SetComparison]
    tolerance: float = TOLERANCE_POINTS
    served_revision: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def refusals(self) -> list[str]:
        """One reason per set on which the candidate is worse beyond the tolerance (empty: promote)."""
        reasons = []
        for row in self.comparisons:
            change = row.change_points
            allowed = row.allowed_drop_points(self.tolerance)
            if change is not None and change < -allowed - 1e-9:  # exactly one image worse is allowed
                reasons.append(
                    f"{row.name}: the candidate reads {row.candidate:.2%}, the served model {row.served:.2%} "
                    f"({change:+.2f} points; at most {allowed:.2f} points worse is allowed)"
                )
        return reasons

    @property
    def refused(self) -> bool:
        return bool(self.refusals)

    def table(self) -> str:
        """The side-by-side table, in Markdown."""
        served = f"served (`{self.served_revision[:12]}`)" if self.served_revision else "served"
        lines = [f"| set | images | {served} | candidate | change |", "| --- | --- | --- | --- | --- |"]
        for row in self.comparisons:
            served_cell = "-" if row.served is None else f"{row.served:.2%}"
            change = "-" if row.change_points is None else f"{row.change_points:+.2f} points"
            lines.append(f"| {row.name} | {row.n} | {served_cell} | {row.candidate:.2%} | {change} |")
        return "\n".join(lines)


def score(model, data: Split | LabelledSet) -> float:
    """Accuracy of ``model`` on frames (a :class:`Split`) or on images read as the app reads them
    (a :class:`LabelledSet`: digits right, or numbers read exactly)."""
    if isinstance(data, Split):
        return evaluate(model, data).accuracy
    return evaluate_set(model, data).accuracy


def compare_models(candidate, served, sets: dict[str, Split | LabelledSet], *, tolerance: float = TOLERANCE_POINTS,
                   served_revision: str | None = None) -> PromotionReport:
    """Score the candidate and the served model (None: nothing served yet) on every set.

    Parameters
    ----------
    candidate, served : estimators with ``predict_proba`` (served may be None)
    sets : dict of name -> Split or LabelledSet
        Empty sets are left out of the table with a note.
    tolerance : float
        Percentage points the candidate may lose on a set.
    """
    comparisons, notes = [], []
    for name, data in sets.items():
        n = len(data)
        if n == 0:
            notes.append(f"{name}: no images, not compared")
            continue
        comparisons.append(SetComparison(name, n, score(candidate, data), None if served is None else score(served, data)))
    return PromotionReport(comparisons, tolerance=tolerance, served_revision=served_revision, notes=notes)


def record_promotion(card_path: str | Path, report: PromotionReport, *, promoted_at: str, repo_id: str) -> None:
    """Write the comparison into a model card: ``model-index`` results for each set, a ``promotion``
    block in the ``digit_model`` metadata (when, against which revision, the figures) and the table."""
    card_path = Path(card_path)
    card = ModelCard.load(card_path)
    results = [r for r in (card.data.eval_results or []) if r.dataset_split == "test" and r.dataset_name == "MNIST"]
    for row in report.comparisons:
        results.append(
            EvalResult(
                task_type="image-classification",
                task_name="Handwritten digit recognition",
                dataset_type=f"{repo_id}/{row.name}".replace(" ", "-").lower(),
                dataset_name=f"{row.name} (promotion check)",
                metric_type="accuracy",
                metric_name="Accuracy",
                metric_value=round(row.candidate, 6),
            )
        )
    card.data.eval_results = results
    facts = dict(getattr(card.data, "digit_model", None) or {})
    facts["promotion"] = {
        "promoted_at": promoted_at,
        "compared_with": report.served_revision,
        "tolerance_points": report.tolerance,
        "sets": [asdict(row) for row in report.comparisons],
    }
    card.data.digit_model = facts
    section = (
        "\n\n## Promotion\n\n"
        f"Promoted {promoted_at} by `scripts/promote.py`, after reading every set below with both models "
        f"(the candidate may be at most {report.tolerance:.2f} points, or one image, worse on any set).\n\n"
        + report.table()
        + "\n"
    )
    text = card.text.split("\n\n## Promotion\n", 1)[0].rstrip("\n") + section
    ModelCard(f"---\n{card.data.to_yaml()}\n---\n{text}").save(card_path)


def _quiet(message: str) -> None:
    pass


@dataclass(frozen=True)
class _Served:
    model: object | None
    revision: str | None
    golden: Path


def _served(repo_id: str, *, api, revision: str | None, golden: Path | None) -> _Served:
    revision = revision or promoted_revision(repo_id, api=api)
    model = load_model(download_model(repo_id, revision=revision)[0]) if revision is not None else None
    golden = golden or (download_golden_set(repo_id, revision=revision) if revision else None)
    if golden is None:
        raise DatasetError(f"no golden set: {repo_id} has no {GOLDEN_FOLDER}/ at the served revision; "
                           f"seed it with --golden DIR (real drawings and a {LABELS_FILENAME}).")
    return _Served(model, revision, Path(golden))


def _flag_specs(facts: dict) -> list[str]:
    """The flag sources a candidate's card names, as specs :func:`held_out_flags` reads."""
    return [f"hf://datasets/{s['dataset']}@{s['revision']}" if s.get("dataset") else s["folder"]
            for s in facts.get("extra_sources") or []]


def promote_candidate(candidate: str | Path, repo_id: str, *, api=None, served_revision: str | None = None,
                      mnist: Path | None = None, test_limit: int | None = None, golden: Path | None = None,
                      flags: list[str] | None = None, tolerance: float = TOLERANCE_POINTS, dry_run: bool = False,
                      log: Callable[[str], None] = _quiet) -> tuple[PromotionReport, str | None]:
    """Compare a candidate folder with the served model; publish it and move the tag if not worse.

    Parameters
    ----------
    candidate : path
        A folder written by :func:`digit_core.candidate.write_candidate`.
    repo_id : str
        The Hub model repository the Space serves from.
    api : HfApi, optional
    served_revision : str, optional
        The served model's revision (default: the ``promoted`` tag; none: the first promotion).
    mnist, test_limit
        MNIST test images to compare on (folder, or OpenML; the first N only).
    golden : Path, optional
        Golden set to compare on and publish (default: the served revision's).
    flags : list of str, optional
        Flag sources whose held-out accepted samples are compared on (default: the card's).
    tolerance : float
        Percentage points the candidate may lose on a set (at least one image).
    dry_run : bool
        Compare only; publish nothing.
    log : callable(str)
        Receives the table, notes and the outcome, line by line.

    Returns
    -------
    (PromotionReport, str or None)
        The comparison, and the commit now tagged ``promoted`` (None: refused or dry run).

    Raises
    ------
    DatasetError, ModelLoadError, HubAuthError
        Something to compare on or to publish is missing, or no token can write.
    """
    from huggingface_hub import HfApi

    api, candidate = api or HfApi(), Path(candidate)
    card_path = candidate / CARD_FILENAME
    if not card_path.is_file():
        raise DatasetError(f"{candidate} has no {CARD_FILENAME}; promote a folder written by scripts/train.py.")
    model, facts = load_model(candidate / config.MODEL_FILENAME), read_card_facts(card_path)
    served = _served(repo_id, api=api, revision=served_revision, golden=golden)
    test = load_mnist("test", folder=mnist)
    fraction = float(facts.get("extra_held_out_fraction") or FLAG_HELD_OUT_FRACTION)
    sets = {"MNIST test": test.head(test_limit or len(test)), "golden set": load_labelled_set(served.golden),
            "held-out flags": held_out_flags(_flag_specs(facts) if flags is None else flags, fraction=fraction)}
    report = compare_models(model, served.model, sets, tolerance=tolerance, served_revision=served.revision)
    for line in [report.table(), *(f"note: {note}" for note in report.notes)]:
        log(line)
    if report.refused or dry_run:
        return report, None
    return report, _publish(candidate, repo_id, report, served, api=api)


def _publish(candidate: Path, repo_id: str, report: PromotionReport, served: _Served, *, api) -> str:
    promoted_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    card_path = candidate / CARD_FILENAME
    record_promotion(card_path, report, promoted_at=promoted_at, repo_id=repo_id)
    golden_files = {f"{GOLDEN_FOLDER}/{path.relative_to(served.golden).as_posix()}": path
                    for path in sorted(served.golden.rglob("*")) if path.is_file()}
    commit = publish_model(candidate / config.MODEL_FILENAME, repo_id, api=api, card_path=card_path, extra_files=golden_files,
                           commit_message=f"Promote model ({promoted_at}): not worse than {served.revision or 'nothing served'} on any set")
    move_promoted_tag(repo_id, commit, api=api, message=f"promoted {promoted_at}")
    return commit


def outcome_lines(report: PromotionReport, commit: str | None, *, repo_id: str) -> list[str]:
    """What to tell the person after :func:`promote_candidate`: refused and why (with a JSON line),
    a dry run's verdict, or where the model went and the revision to pin (the last line)."""
    if report.refused:
        return ["refused: the candidate is worse than the served model on " + "; ".join(report.refusals),
                json.dumps({"promoted": False, "refusals": report.refusals})]
    if commit is None:
        return ["the candidate may be promoted (dry run: nothing published)"]
    return [f"promoted to {repo_id}: the 'promoted' tag points to {commit}",
            f"pin it with: DIGIT_MODEL_REPO={repo_id} DIGIT_MODEL_REVISION={commit} (or follow the tag: DIGIT_MODEL_FOLLOW=1)",
            commit]
