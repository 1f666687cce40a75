"""Which model to serve, and publishing models to the Hugging Face Hub.

:func:`resolve_model` tries, in order: a local file (``DIGIT_MODEL_PATH``), the Hub
(``DIGIT_MODEL_REPO`` at ``DIGIT_MODEL_REVISION``, through ``hf_hub_download`` and its cache, so
``HF_HUB_OFFLINE=1`` is honoured), and the bundled starter model. A failure at one step falls back to
the next with a notice that says why; every load goes through the safe loader.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download

from . import config
from .card import read_card_facts
from .errors import DigitCoreError, ModelLoadError
from .persistence import load_model

__all__ = ["LoadedModel", "resolve_model", "download_model", "publish_model", "CARD_FILENAME"]

logger = logging.getLogger(__name__)

#: The model card's file name, next to the model locally and on the Hub.
CARD_FILENAME = "README.md"
#: The evaluation picture published with a model, shown in the app's About section.
CONFUSION_FILENAME = "confusion_matrix.png"


@dataclass
class LoadedModel:
    """A model ready to serve, and where it came from.

    Attributes
    ----------
    model : estimator
    source : {'local', 'hub', 'starter'}
    location : str
        File path, or ``repo@revision`` for the Hub.
    revision : str or None
    facts : dict
        The card's ``digit_model`` metadata (accuracy, ece, profile, ...); empty without a card.
    notices : list of str
        Why earlier choices were skipped (shown to people, also logged).
    confusion_matrix : Path or None
        ``confusion_matrix.png`` of the model's evaluation, when there is one.
    """

    model: object
    source: str
    location: str
    revision: str | None = None
    facts: dict = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    confusion_matrix: Path | None = None

    @property
    def model_id(self) -> str:
        """A short id for flag metadata: ``hub:repo@rev``, ``local:path`` or ``starter``."""
        return self.source if self.source == "starter" else f"{self.source}:{self.location}"


def download_model(
    repo_id: str, *, revision: str | None = None, cache_dir: str | Path | None = None
) -> tuple[Path, Path | None, Path | None]:
    """Fetch ``model.skops`` (and its card and confusion matrix, if any) through the Hub cache.

    Returns
    -------
    model_path, card_path, confusion_path : Path, Path or None, Path or None

    Raises
    ------
    ModelLoadError
        Not in the cache while offline, the repository or revision does not exist, or the network failed.
    """
    try:
        model_path = Path(hf_hub_download(repo_id, config.MODEL_FILENAME, revision=revision, cache_dir=cache_dir))
    except Exception as exc:  # huggingface_hub raises many kinds: offline, not found, HTTP, OS
        where = f"{repo_id}@{revision or 'main'}"
        raise ModelLoadError(f"could not get {config.MODEL_FILENAME} from the Hub repository {where}: {exc}") from exc
    extras = []
    for name in (CARD_FILENAME, CONFUSION_FILENAME):
        try:
            extras.append(Path(hf_hub_download(repo_id, name, revision=revision, cache_dir=cache_dir)))
        except Exception:  # optional files: their absence never blocks serving
            extras.append(None)
    return model_path, extras[0], extras[1]


def _beside(model_path: Path, name: str) -> Path | None:
    path = model_path.with_name(name)
    return path if path.is_file() else None


def _facts(card_path: Path | None) -> dict:
    if card_path is None:
        return {}
    try:
        return read_card_facts(card_path)
    except Exception as exc:  # a card is informative only; never block serving on it
        logger.warning("could not read model card %s: %s", card_path, exc)
        return {}


def resolve_model(
    *,
    model_path: str | Path | None = config.MODEL_PATH,
    repo_id: str | None = config.MODEL_REPO,
    revision: str | None = config.MODEL_REVISION,
    starter_path: str | Path = config.STARTER_MODEL_PATH,
    cache_dir: str | Path | None = None,
) -> LoadedModel:
    """Load the model to serve: local file, then the Hub, then the starter model.

    Parameters
    ----------
    model_path : path, optional
        Default ``DIGIT_MODEL_PATH``.
    repo_id, revision : str, optional
        Default ``DIGIT_MODEL_REPO``, ``DIGIT_MODEL_REVISION`` (pin a commit SHA).
    starter_path : path
        The bundled model, the last resort.
    cache_dir : path, optional
        Hub cache folder (default: ``HF_HUB_CACHE``).

    Returns
    -------
    LoadedModel
        With ``notices`` saying which earlier choice failed and why.

    Raises
    ------
    ModelLoadError
        Even the starter model could not be loaded.
    """
    notices: list[str] = []
    if model_path:
        try:
            path = Path(model_path)
            return LoadedModel(
                load_model(path),
                "local",
                str(path),
                facts=_facts(_beside(path, CARD_FILENAME)),
                notices=notices,
                confusion_matrix=_beside(path, CONFUSION_FILENAME),
            )
        except DigitCoreError as exc:
            notices.append(f"Local model {model_path} was not used: {exc}")
            logger.warning(notices[-1])
    if repo_id:
        try:
            path, card, confusion = download_model(repo_id, revision=revision, cache_dir=cache_dir)
            location = f"{repo_id}@{revision or 'main'}"
            return LoadedModel(
                load_model(path),
                "hub",
                location,
                revision=revision,
                facts=_facts(card),
                notices=notices,
                confusion_matrix=confusion,
            )
        except DigitCoreError as exc:
            notices.append(f"Hub model {repo_id}@{revision or 'main'} was not used: {exc}")
            logger.warning(notices[-1])
    path = Path(starter_path)
    if notices:
        notices.append("Serving the bundled starter model instead.")
        logger.warning(notices[-1])
    return LoadedModel(
        load_model(path),
        "starter",
        str(path),
        facts=_facts(_beside(path, CARD_FILENAME)),
        notices=notices,
        confusion_matrix=_beside(path, CONFUSION_FILENAME),
    )


def publish_model(
    model_path: str | Path,
    repo_id: str,
    *,
    api: HfApi | None = None,
    card_path: str | Path | None = None,
    private: bool = False,
    commit_message: str = "Upload digit model",
) -> str:
    """Upload a model and its card to a Hub model repository in one commit.

    The repository is created if needed. The files go in a single commit (with
    ``confusion_matrix.png`` when it lies beside the model), so a failure never leaves a model
    without its card, or the reverse.

    Parameters
    ----------
    model_path : path
        ``model.skops``; it must load with the safe loader.
    repo_id : str
        ``"owner/name"``.
    api : HfApi, optional
        The client (pass one to use a token or, in tests, a stand-in).
    card_path : path, optional
        Default: ``README.md`` beside the model. It becomes the repository's README.md.

    Returns
    -------
    str
        The commit SHA, to pin in ``DIGIT_MODEL_REVISION``.

    Raises
    ------
    ModelLoadError
        The model or card file is missing, or the model does not pass the safe loader.
    PermissionError
        No Hugging Face token is available.
    """
    api = api or HfApi()
    model_path = Path(model_path)
    card_path = Path(card_path) if card_path else _beside(model_path, CARD_FILENAME)
    if card_path is None or not Path(card_path).is_file():
        raise ModelLoadError(f"no model card next to {model_path}; pass card_path (scripts/train.py writes README.md).")
    load_model(model_path)  # refuse to publish anything the app would refuse to load
    if not api.token and not _has_token():
        raise PermissionError(
            "no Hugging Face token: run `hf auth login` or set HF_TOKEN to a token with write access, then retry."
        )
    operations = [
        CommitOperationAdd(path_in_repo=config.MODEL_FILENAME, path_or_fileobj=str(model_path)),
        CommitOperationAdd(path_in_repo=CARD_FILENAME, path_or_fileobj=str(card_path)),
    ]
    confusion = _beside(model_path, CONFUSION_FILENAME)
    if confusion is not None:
        operations.append(CommitOperationAdd(path_in_repo=CONFUSION_FILENAME, path_or_fileobj=str(confusion)))
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    info = api.create_commit(
        repo_id,
        operations=operations,
        commit_message=commit_message,
        repo_type="model",
    )
    return info.oid


def _has_token() -> bool:
    from huggingface_hub import get_token

    return bool(get_token())
