"""digit_core: everything between a drawing and a digit, shared by training, scripts and the app.

Where things happen:

- ``images``: decoding files safely; any image mode -> one grey channel.
- ``framing``: grey image -> the MNIST 28x28 frame; deskewing.
- ``scan``: reading scans and photos: segmentation of several digits (see ``reading``).
- ``features``: pipeline transformers (deskew, gradient direction features).
- ``augment``: training-set augmentation.
- ``model``: the pipeline factory and its hyperparameters; ``digit_model``: the one model object
  (classifier, "not a digit" part and its threshold over shared features), what a model file holds.
- ``rejection``: what is not a digit (font letters, scribbles, blots), and choosing its threshold
  across sites.
- ``calibration``: temperature scaling and expected calibration error.
- ``training``: one training run; ``evaluation``: metrics, pictures and the textbook baseline.
- ``candidate``: a candidate's folder (train, evaluate, model + card); ``promotion``: compare it with the
  served model and publish it only if it is not worse.
- ``inference``: calibrated probabilities for frames.
- ``reading``: the one way to read an image: every digit, its frame, probabilities and box;
  ``presets``: the reading parameters of drawings, enlarged scans and documents.
- ``persistence``: safe save/load (skops, trusted types); ``card``: model cards.
- ``hub``: finding the model to serve (local file, Hugging Face Hub, starter).
- ``data``: MNIST and the container of other labelled frames.
- ``flags``: the flag lifecycle: record, store, gate (limits, screening, review), dataset (what training reads).
- ``strokes``: pen trajectories drawn as the sketchpad draws; ``real_data``: real handwriting sets and
  their held-out splits.
"""

from .data import ExtraSamples, Split, load_mnist
from .digit_model import DigitModel
from .errors import (
    DatasetError,
    DigitCoreError,
    InvalidImageError,
    InvalidLabelError,
    ModelLoadError,
    NoDigitFoundError,
    UntrustedModelError,
)
from .features import Deskew, GradientDirectionFeatures
from .flags import load_extra_folder
from .framing import deskew, to_mnist_frame
from .images import open_image, to_grayscale
from .inference import predict_proba
from .model import PROFILES, make_pipeline
from .persistence import load_model, save_model
from .reading import ReadDigit, Reading, read_digits

__all__ = [
    "PROFILES",
    "ReadDigit",
    "Reading",
    "DatasetError",
    "Deskew",
    "DigitCoreError",
    "DigitModel",
    "ExtraSamples",
    "GradientDirectionFeatures",
    "InvalidImageError",
    "InvalidLabelError",
    "ModelLoadError",
    "NoDigitFoundError",
    "Split",
    "UntrustedModelError",
    "deskew",
    "load_extra_folder",
    "load_mnist",
    "load_model",
    "make_pipeline",
    "open_image",
    "predict_proba",
    "read_digits",
    "save_model",
    "to_grayscale",
    "to_mnist_frame",
]
