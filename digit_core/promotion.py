"""Proving a candidate model better than the served one, on the same data, before the Space serves it.

:func:`compare_models` scores both models on each evaluation set (MNIST test frames, the golden set
of real drawings read as the app reads them, the accepted flags held out of training) and gives a
:class:`PromotionReport`: the side-by-side table and, when the candidate is worse beyond the
tolerance on any set, the reasons to refuse it. :func:`record_promotion` writes the table into the
candidate's card (``model-index`` results for every set, and a ``promotion`` block the app shows).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard

from .data import Split
from .evaluation import evaluate, evaluate_set
from .real_data import LabelledSet

__all__ = ["SetComparison", "PromotionReport", "compare_models", "score", "record_promotion", "TOLERANCE_POINTS"]

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
