"""Model cards: Markdown with Hugging Face ``model-index`` metadata, so the Hub shows the metrics.

The card is the model's ``README.md`` on the Hub. Besides ``model-index`` (dataset, split,
accuracy, ECE) its metadata holds a ``digit_model`` block that the app reads back: the profile,
training command, data checksums, sizes, timings and library versions.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

__all__ = ["CardFacts", "make_model_card", "read_card_facts", "library_versions"]

_LIBRARIES = ("scikit-learn", "scikit-learn-intelex", "scikit-image", "numpy", "scipy", "skops", "pillow")

_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

A calibrated RBF support-vector classifier for handwritten digits (MNIST-style 28x28 frames),
profile **{{ facts.profile }}**: {{ facts.description }}

| test set | accuracy | expected calibration error | images |
| --- | --- | --- | --- |
| MNIST test (standard split, never trained or tuned on) | {{ "%.2f" % (100 * facts.accuracy) }}% | {{ "%.4f" % facts.ece }} | {{ facts.n_test }} |

## How it reads a digit

1. The drawing or scan is put into MNIST form by `digit_core.framing.to_mnist_frame`: polarity,
   paper tone removed, Otsu threshold, specks dropped, strokes redrawn at MNIST width when far off,
   longer side scaled to 20 px, centred by centre of mass in 28x28.
2. Pipeline: deskew by moments -> gradient direction features (8 directions, 7x7 Gaussian pooling,
   square root) -> {{ facts.reduce }} -> RBF SVC (C={{ facts.C }}, gamma='scale').
3. A temperature fitted on {{ facts.n_calibration }} held-out training images turns the SVC's
   decision values into probabilities.

## Training

- Data: MNIST training set (first 60,000 images){% if facts.n_pen %} plus {{ facts.n_pen }} canvas drawings of real
  pen digits ({{ facts.pen_source }}){% endif %}{% if facts.n_extra %} plus {{ facts.n_extra }} labelled drawings{% endif %};
  {{ facts.n_fit }} rows after augmentation; {{ facts.n_support_vectors }} support vectors.{% for source in facts.extra_sources %}
- Extra drawings from {% if source.dataset %}the Hub dataset `{{ source.dataset }}` at revision `{{ source.revision }}`{% else %}the folder `{{ source.folder }}`{% endif %}:
  {{ source.accepted }} accepted, {{ source.trained_on }} trained on, {{ source.held_out }} held out to compare models on;
  left out until reviewed: {{ source.pending_skipped }} pending, {{ source.rejected_skipped }} rejected.{% endfor %}
- Command: `{{ facts.command }}`
- Wall time (2-core machine): {% for stage, s in facts.seconds.items() %}{{ stage }} {{ "%.1f" % s }} s{% if not loop.last %}, {% endif %}{% endfor %}.
- Data checksums (MD5): {% for name, md5 in facts.data_md5.items() %}`{{ name }}` {{ md5 }}{% if not loop.last %}, {% endif %}{% endfor %}.
- Libraries: {% for name, version in facts.versions.items() %}{{ name }} {{ version }}{% if not loop.last %}, {% endif %}{% endfor %}.

## Loading

The file is `model.skops`; load it with `digit_core.persistence.load_model`, which trusts only a
fixed list of types and never unpickles. It predicts with plain scikit-learn.

MNIST is by Yann LeCun and Corinna Cortes, under CC BY-SA 3.0.{% if facts.n_pen %}
The pen digits are from UNIPEN (Guyon et al., 1994), under CC BY 4.0, via the GreenCappuccino/train_r01_v07
repository on GitHub; sites {{ facts.pen_held_out | join(", ") }} were held out of training to measure other writers.{% endif %}
"""


@dataclass
class CardFacts:
    """What a model card states."""

    profile: str
    description: str
    accuracy: float
    ece: float
    n_test: int
    n_fit: int
    n_calibration: int
    n_extra: int
    n_support_vectors: int
    C: float
    reduce: str
    command: str
    seconds: dict[str, float] = field(default_factory=dict)
    data_md5: dict[str, str] = field(default_factory=dict)
    n_pen: int = 0
    pen_source: str = ""
    pen_held_out: list[str] = field(default_factory=list)
    extra_sources: list[dict] = field(default_factory=list)
    extra_held_out_fraction: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a model depends on, and Python's."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def make_model_card(facts: CardFacts, *, model_name: str = "digit-svc") -> ModelCard:
    """A model card with ``model-index`` metadata (accuracy and ECE on the MNIST test split)."""
    results = [
        EvalResult(
            task_type="image-classification",
            task_name="Handwritten digit recognition",
            dataset_type="ylecun/mnist",
            dataset_name="MNIST",
            dataset_split="test",
            metric_type="accuracy",
            metric_name="Accuracy",
            metric_value=round(facts.accuracy, 6),
        ),
        EvalResult(
            task_type="image-classification",
            task_name="Handwritten digit recognition",
            dataset_type="ylecun/mnist",
            dataset_name="MNIST",
            dataset_split="test",
            metric_type="ece",
            metric_name="Expected calibration error (15 bins)",
            metric_value=round(facts.ece, 6),
        ),
    ]
    data = ModelCardData(
        model_name=model_name,
        license="mit",
        library_name="sklearn",
        pipeline_tag="image-classification",
        tags=["mnist", "svm", "handwritten-digits", "skops", "tabular-classification"],
        datasets=["ylecun/mnist"],
        metrics=["accuracy"],
        eval_results=results,
        digit_model={key: value for key, value in vars(facts).items()},
    )
    return ModelCard.from_template(data, template_str=_TEMPLATE, model_name=model_name, facts=facts)


def read_card_facts(path: str | Path) -> dict:
    """The ``digit_model`` metadata block of a card file (``{}`` when there is none)."""
    card = ModelCard.load(Path(path))
    return dict(card.data.to_dict().get("digit_model") or {})
