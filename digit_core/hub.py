"""Which model to serve, publishing models to the Hugging Face Hub, and reading flag datasets from it.

:func:`resolve_model` tries, in order: a local file (``DIGIT_MODEL_PATH``), the Hub
(``DIGIT_MODEL_REPO`` at ``DIGIT_MODEL_REVISION``, through ``hf_hub_download`` and its cache, so
``HF_HUB_OFFLINE=1`` is honoured), and the bundled starter model. A failure at one step falls back to
the next with a notice that says why; every load goes through the safe loader.

:class:`ModelFollower` keeps a running app on the newest *promoted* revision (the ``promoted`` tag
that ``scripts/promote.py`` moves), and :func:`download_dataset` brings a flag dataset
(``hf://datasets/OWNER/NAME[@REVISION]``) into the Hub cache for training.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download, snapshot_download

from . import config
from .card import read_card_facts
from .errors import DatasetError, DigitCoreError, HubAuthError, HubPublishError, ModelLoadError
from .persistence import load_model

__all__ = [
    "LoadedModel",
    "resolve_model",
    "download_model",
    "hub_model",
    "publish_model",
    "promoted_revision",
    "move_promoted_tag",
    "download_golden_set",
    "ModelFollower",
    "DatasetSnapshot",
    "parse_dataset_spec",
    "download_dataset",
    "CARD_FILENAME",
    "PROMOTED_TAG",
    "GOLDEN_FOLDER",
]

logger = logging.getLogger(__name__)

#: The model card's file name, next to the model locally and on the Hub.
CARD_FILENAME = "README.md"
#: The evaluation picture published with a model, shown in the app's About section.
CONFUSION_FILENAME = "confusion_matrix.png"
#: Pictures published with a model when they lie beside it (train.py writes both).
PICTURE_FILENAMES = (CONFUSION_FILENAME, "misclassified.png")
#: The tag ``scripts/promote.py`` moves to each model it proves better; ``DIGIT_MODEL_FOLLOW=1`` serves it.
PROMOTED_TAG = "promoted"
#: Folder of the model repository holding the golden set: real drawings, images and ``labels.csv``.
GOLDEN_FOLDER = "golden"
#: ``hf://datasets/OWNER/NAME`` with an optional ``@REVISION`` (branch, tag or commit).
_DATASET_SPEC = re.compile(r"^hf://datasets/(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<revision>[\w./-]+))?/?$")


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

    @property
    def promoted_at(self) -> str | None:
        """When ``scripts/promote.py`` promoted this model (UTC, ISO 8601), from its card."""
        promotion = self.facts.get("promotion") or {}
        return promotion.get("promoted_at") if isinstance(promotion, dict) else None


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


def hub_model(repo_id: str, *, revision: str | None, cache_dir: str | Path | None = None) -> LoadedModel:
    """A Hub model revision through the cache, loaded with the safe loader, with its card's facts;
    ``revision`` (a branch or tag) is recorded as the commit it resolved to.

    Raises
    ------
    ModelLoadError, UntrustedModelError
    """
    path, card, confusion = download_model(repo_id, revision=revision, cache_dir=cache_dir)
    commit = _snapshot_commit(path) or revision
    return LoadedModel(
        load_model(path), "hub", f"{repo_id}@{commit or 'main'}", revision=commit, facts=_facts(card), confusion_matrix=confusion
    )


def _snapshot_commit(cached_file: Path) -> str | None:
    # A file from the Hub cache lies in snapshots/<commit>/: the commit a branch or tag resolved to.
    parent = Path(cached_file).parent
    if parent.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", parent.name):
        return parent.name
    return None


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
            loaded = hub_model(repo_id, revision=revision, cache_dir=cache_dir)
            loaded.notices = notices
            return loaded
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
    extra_files: dict[str, Path] | None = None,
) -> str:
    """Upload a model and its card to a Hub model repository in one commit.

    The repository is created if needed. The files go in a single commit (with
    ``confusion_matrix.png`` and ``misclassified.png`` when they lie beside the model), so a failure never leaves a model
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
    extra_files : dict, optional
        More files for the same commit, ``{path_in_repo: local path}`` (the golden set).

    Returns
    -------
    str
        The commit SHA, to pin in ``DIGIT_MODEL_REVISION``.

    Raises
    ------
    ModelLoadError
        The model or card file is missing, or the model does not pass the safe loader.
    HubAuthError
        No Hugging Face token is available (a ``PermissionError`` too).
    HubPublishError
        The Hub refused the repository or the commit, or could not be reached.
    """
    from huggingface_hub.errors import HfHubHTTPError

    api = api or HfApi()
    model_path = Path(model_path)
    card_path = Path(card_path) if card_path else _beside(model_path, CARD_FILENAME)
    if card_path is None or not Path(card_path).is_file():
        raise ModelLoadError(f"no model card next to {model_path}; pass card_path (scripts/train.py writes README.md).")
    load_model(model_path)  # refuse to publish anything the app would refuse to load
    if not api.token and not _has_token():
        raise HubAuthError(
            f"no Hugging Face token to publish {model_path} to {repo_id}: run `hf auth login` or set HF_TOKEN to a token with write access, then retry."
        )
    operations = [
        CommitOperationAdd(path_in_repo=config.MODEL_FILENAME, path_or_fileobj=str(model_path)),
        CommitOperationAdd(path_in_repo=CARD_FILENAME, path_or_fileobj=str(card_path)),
    ]
    for name in PICTURE_FILENAMES:
        picture = _beside(model_path, name)
        if picture is not None:
            operations.append(CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(picture)))
    for path_in_repo, local in (extra_files or {}).items():
        operations.append(CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=str(local)))
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.create_commit(repo_id, operations=operations, commit_message=commit_message, repo_type="model")
    except (HfHubHTTPError, OSError) as exc:  # refused (401/403/404), offline
        raise HubPublishError(f"could not publish {model_path} to the Hub repository {repo_id}: {exc}. "
                              "Check the repository name and that the token may write to it, then retry.") from exc
    return info.oid


def _has_token() -> bool:
    from huggingface_hub import get_token

    return bool(get_token())


def promoted_revision(repo_id: str, *, api: HfApi | None = None) -> str | None:
    """The commit the ``promoted`` tag points to now, asked of the Hub; None when nothing was promoted.

    Raises
    ------
    ModelLoadError
        The Hub could not be asked (offline, network, no such repository).
    """
    from huggingface_hub.errors import RevisionNotFoundError

    api = api or HfApi()
    try:
        return api.model_info(repo_id, revision=PROMOTED_TAG).sha
    except RevisionNotFoundError:
        return None
    except Exception as exc:  # offline, HTTP, repository not found: the caller keeps what it serves
        raise ModelLoadError(f"could not ask the Hub which revision of {repo_id} is promoted: {exc}") from exc


def move_promoted_tag(repo_id: str, commit: str, *, api: HfApi, message: str) -> None:
    """Point the ``promoted`` tag at ``commit`` (a Hub tag cannot be moved: it is deleted, then made again).

    Raises
    ------
    HubPublishError
        The Hub refused to delete or make the tag.
    """
    from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError

    try:
        api.delete_tag(repo_id, tag=PROMOTED_TAG)
    except (RevisionNotFoundError, HfHubHTTPError) as exc:
        if not isinstance(exc, RevisionNotFoundError) and getattr(getattr(exc, "response", None), "status_code", None) != 404:
            raise HubPublishError(f"could not move the {PROMOTED_TAG!r} tag of {repo_id}: {exc}. "
                                  f"Point it at {commit} by hand or retry.") from exc
    try:
        api.create_tag(repo_id, tag=PROMOTED_TAG, revision=commit, tag_message=message)
    except (HfHubHTTPError, OSError) as exc:
        raise HubPublishError(f"could not tag {commit} of {repo_id} as {PROMOTED_TAG!r}: {exc}. Retry, or tag it by hand.") from exc


def download_golden_set(repo_id: str, *, revision: str | None, cache_dir: str | Path | None = None) -> Path | None:
    """The golden set (``golden/``: real drawings and ``labels.csv``) of a model repository revision,
    through the Hub cache; None when that revision has none.

    Raises
    ------
    ModelLoadError
        The repository or revision could not be read.
    """
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=[f"{GOLDEN_FOLDER}/*"], cache_dir=cache_dir))
    except Exception as exc:
        raise ModelLoadError(f"could not get the golden set of {repo_id}@{revision or 'main'}: {exc}") from exc
    golden = folder / GOLDEN_FOLDER
    return golden if (golden / "labels.csv").is_file() else None


class ModelFollower:
    """Keeps a running app on the newest promoted revision of a Hub model repository.

    :meth:`check` asks the Hub where the ``promoted`` tag points; when that is a commit other than the
    one served, it downloads it through the Hub cache, loads it with the safe loader and only then
    hands the whole :class:`LoadedModel` to ``swap`` (a request never sees a half-loaded model: the
    handlers take the served model once per request, and the swap replaces one reference). Any failure
    keeps the model being served and is logged. :meth:`start` checks on an interval in a daemon thread.

    Parameters
    ----------
    repo_id : str
    current : str or None
        The commit served now.
    swap : callable taking a LoadedModel
    api : HfApi, optional
    cache_dir : path, optional
    """

    def __init__(self, repo_id: str, *, current: str | None, swap, api: HfApi | None = None, cache_dir=None):
        self.repo_id = repo_id
        self.current = current
        self.swap = swap
        self.api = api
        self.cache_dir = cache_dir
        self._stop = threading.Event()

    def check(self) -> LoadedModel | None:
        """Swap to the promoted revision if it is new; return the model swapped in, else None."""
        try:
            commit = promoted_revision(self.repo_id, api=self.api)
            if commit is None or commit == self.current:
                return None
            loaded = hub_model(self.repo_id, revision=commit, cache_dir=self.cache_dir)
        except DigitCoreError as exc:
            logger.warning("still serving %s: %s", self.current or "the model loaded at start", exc)
            return None
        self.swap(loaded)
        self.current = commit
        logger.info("now serving %s (promoted %s)", loaded.location, loaded.promoted_at or "at an unknown time")
        return loaded

    def start(self, every_seconds: float) -> threading.Thread:
        """Check every ``every_seconds`` in a daemon thread until :meth:`stop`."""

        def run() -> None:
            while not self._stop.wait(every_seconds):
                self.check()

        thread = threading.Thread(target=run, name="model-follower", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


@dataclass(frozen=True)
class DatasetSnapshot:
    """A Hub dataset at one commit, in the local Hub cache.

    Attributes
    ----------
    repo_id : str
    revision : str
        The commit SHA the requested revision resolved to (record it: it names the data exactly).
    folder : Path
        The snapshot folder (the dataset's files, as in the repository).
    """

    repo_id: str
    revision: str
    folder: Path

    @property
    def spec(self) -> str:
        """``hf://datasets/OWNER/NAME@COMMIT``: this exact data, for a card or a later run."""
        return f"hf://datasets/{self.repo_id}@{self.revision}"


def parse_dataset_spec(spec: str) -> tuple[str, str | None] | None:
    """``(repo_id, revision or None)`` for ``hf://datasets/OWNER/NAME[@REVISION]``; None for a local path.

    Raises
    ------
    DatasetError
        It starts with ``hf://`` but is not a dataset address of that form.
    """
    spec = str(spec)
    if not spec.startswith("hf://"):
        return None
    match = _DATASET_SPEC.match(spec)
    if match is None:
        raise DatasetError(f"{spec!r} is not a Hub dataset address; expected hf://datasets/OWNER/NAME or hf://datasets/OWNER/NAME@REVISION.")
    return match["repo"], match["revision"]


def download_dataset(spec: str, *, cache_dir: str | Path | None = None) -> DatasetSnapshot:
    """Bring a Hub dataset (``hf://datasets/OWNER/NAME[@REVISION]``) into the Hub cache.

    With ``HF_HUB_OFFLINE=1`` it is read from the cache, as every Hub download is. Without a revision
    the newest commit of ``main`` is taken, and :attr:`DatasetSnapshot.revision` says which it was.

    Raises
    ------
    DatasetError
        Not a dataset address, or the dataset or revision is not on the Hub (or, offline, not in the cache).
    """
    parsed = parse_dataset_spec(spec)
    if parsed is None:
        raise DatasetError(f"{spec!r} is not a Hub dataset address; expected hf://datasets/OWNER/NAME[@REVISION].")
    repo_id, revision = parsed
    try:
        folder = Path(snapshot_download(repo_id, repo_type="dataset", revision=revision, cache_dir=cache_dir))
    except Exception as exc:  # offline and not cached, not found, HTTP: all mean "no data"
        raise DatasetError(f"could not get the dataset {repo_id}@{revision or 'main'} from the Hub: {exc}") from exc
    return DatasetSnapshot(repo_id, folder.name, folder)
