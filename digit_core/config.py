"""Defaults and environment variables, read once at import.

Everything configurable about where models and flags live is here; nothing else in
``digit_core`` reads ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PROJECT_ROOT",
    "STARTER_MODEL_PATH",
    "MODEL_FILENAME",
    "MODEL_PATH",
    "MODEL_REPO",
    "MODEL_REVISION",
    "FLAG_DIR",
    "FLAG_REPO",
    "HF_TOKEN",
    "DEFAULT_MNIST_DIR",
    "MAX_UPLOAD_BYTES",
    "MAX_IMAGE_PIXELS",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: File name of a model inside a folder or a Hub repository.
MODEL_FILENAME = "model.skops"
#: The compact model committed with the project: used when nothing else is configured.
STARTER_MODEL_PATH = PROJECT_ROOT / "models" / MODEL_FILENAME


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _env_str(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _default_flag_dir() -> Path:
    # On a Space with persistent storage, /data survives restarts; elsewhere keep flags beside the app.
    data = Path("/data")
    if data.is_dir() and os.access(data, os.W_OK):
        return data / "flagged"
    return Path("flagged")


#: A local model file (``DIGIT_MODEL_PATH``); wins over the Hub and the starter model.
MODEL_PATH: Path | None = _env_path("DIGIT_MODEL_PATH")
#: Hub model repository (``DIGIT_MODEL_REPO``), e.g. ``"someone/digit-svc"``.
MODEL_REPO: str | None = _env_str("DIGIT_MODEL_REPO")
#: Hub revision to pin (``DIGIT_MODEL_REVISION``): a commit SHA, so the app never changes under you.
MODEL_REVISION: str | None = _env_str("DIGIT_MODEL_REVISION")
#: Where flagged drawings are stored (``DIGIT_FLAG_DIR``).
FLAG_DIR: Path = _env_path("DIGIT_FLAG_DIR") or _default_flag_dir()
#: Hub dataset repository that flagged drawings are pushed to (``DIGIT_FLAG_REPO``).
FLAG_REPO: str | None = _env_str("DIGIT_FLAG_REPO")
#: Token for pushing flags (``HF_TOKEN``); reading public models needs none.
HF_TOKEN: str | None = _env_str("HF_TOKEN")
#: MNIST folder used by scripts when ``--mnist`` is not given (``DIGIT_MNIST_DIR``).
DEFAULT_MNIST_DIR: Path | None = _env_path("DIGIT_MNIST_DIR")

#: Uploads larger than this are refused before decoding (bytes).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Images with more pixels than this are refused as possible decompression bombs (about 40 MP).
MAX_IMAGE_PIXELS = 40_000_000
