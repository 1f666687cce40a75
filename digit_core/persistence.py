"""Saving and loading models with ``skops.io`` and a fixed list of trusted types.

A model file may come from the internet, so it is never unpickled: ``skops.io`` rebuilds only the
types named in :data:`TRUSTED_TYPES`, and a file holding any other type is refused before loading.
A file is one :class:`digit_core.digit_model.DigitModel`; a file of the earlier layout (a calibrated
pipeline with the "not a digit" part as attributes) is converted to one on load, same fitted parts.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import skops.io as sio

from sklearn.calibration import CalibratedClassifierCV

from .digit_model import DigitModel
from .errors import ModelLoadError, UntrustedModelError

__all__ = ["TRUSTED_TYPES", "MAX_UNPACKED_BYTES", "MAX_SCHEMA_BYTES", "save_model", "load_model", "untrusted_types"]

#: Every type a digit model file may hold beyond the builtins and numpy/scipy types skops trusts.
TRUSTED_TYPES: tuple[str, ...] = (
    "digit_core.digit_model.DigitModel",
    "digit_core.features.Deskew",
    "digit_core.features.GradientDirectionFeatures",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._TemperatureScaling",
    "sklearn.decomposition._pca.PCA",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.svm._classes.SVC",
)


def save_model(model, path: str | Path) -> Path:
    """Write a model with ``skops.io`` (zip-compressed), atomically.

    Parameters
    ----------
    model : estimator
        Made only of :data:`TRUSTED_TYPES` (and what skops trusts by default).
    path : str or Path
        Destination file, conventionally ``model.skops``.

    Returns
    -------
    Path

    Raises
    ------
    UntrustedModelError
        The model holds a type outside :data:`TRUSTED_TYPES`; nothing is written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    sio.dump(model, temporary, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    extra = untrusted_types(temporary)
    if extra:
        temporary.unlink()
        raise UntrustedModelError(
            f"the model holds types outside the trusted list: {', '.join(extra)}. "
            "Add them to digit_core.persistence.TRUSTED_TYPES only if they are safe to rebuild."
        )
    temporary.replace(path)
    return path


#: A model file unpacks to at most this many bytes (the full model's arrays are about 60 MB), and its
#: ``schema.json`` to at most this many: checked from the zip's directory before anything is unpacked.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_SCHEMA_BYTES = 16 * 1024 * 1024


def _check_sizes(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelLoadError(f"{path} is not a readable skops model file ({exc}).") from exc
    total = sum(member.file_size for member in members)
    schema = sum(member.file_size for member in members if member.filename == "schema.json")
    if total > MAX_UNPACKED_BYTES or schema > MAX_SCHEMA_BYTES:
        raise ModelLoadError(
            f"{path} would unpack to {total / 1e6:.0f} MB (schema.json {schema / 1e6:.0f} MB); a model file may "
            f"unpack to at most {MAX_UNPACKED_BYTES / 1e6:.0f} MB with a schema of at most "
            f"{MAX_SCHEMA_BYTES / 1e6:.0f} MB. It was not loaded."
        )


def untrusted_types(path: str | Path) -> list[str]:
    """Types in a model file that are neither trusted by skops by default nor in :data:`TRUSTED_TYPES`.

    Raises
    ------
    ModelLoadError
        Not a zip, or one that would unpack beyond :data:`MAX_UNPACKED_BYTES` (checked first).
    """
    _check_sizes(Path(path))
    try:
        found = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a corrupt zip or schema can fail in many ways
        raise ModelLoadError(f"{path} is not a readable skops model file ({exc}).") from exc
    return sorted(set(found) - set(TRUSTED_TYPES))


def load_model(path: str | Path):
    """Load a model saved by :func:`save_model`, trusting only :data:`TRUSTED_TYPES`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    DigitModel

    Raises
    ------
    ModelLoadError
        The file is missing or is not a skops model file.
    UntrustedModelError
        The file holds a type outside the trusted list (named in the message); nothing is loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist.")
    extra = untrusted_types(path)
    if extra:
        raise UntrustedModelError(
            f"refusing to load {path.name}: it holds types outside the trusted list: {', '.join(extra)}."
        )
    try:
        model = sio.load(path, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise ModelLoadError(f"{path} could not be loaded ({exc}).") from exc
    if isinstance(model, CalibratedClassifierCV):
        return DigitModel.from_calibrated_pipeline(model)
    if not isinstance(model, DigitModel):
        raise ModelLoadError(f"{path} holds a {type(model).__name__}, not a digit model (a DigitModel).")
    return model
