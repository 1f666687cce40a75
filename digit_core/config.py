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
    "MODEL_FOLLOW",
    "MODEL_CHECK_SECONDS",
    "FLAG_DIR",
    "FLAG_REPO",
    "HF_TOKEN",
    "DEFAULT_MNIST_DIR",
    "MAX_UPLOAD_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_DRAWING_PIXELS",
    "MAX_FLAGS",
    "FLAGS_PER_MINUTE",
    "FLAG_BURST",
    "CLIENT_SALT",
    "TRUSTED_PROXIES",
    "MAX_REQUEST_BYTES",
    "MAX_FILES_PER_REQUEST",
    "PENDING_PER_PERSON",
    "UPLOAD_CACHE_EXPIRY",
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
#: Follow the newest promoted revision of ``DIGIT_MODEL_REPO`` instead of a pinned one
#: (``DIGIT_MODEL_FOLLOW=1``): the ``promoted`` tag that ``scripts/promote.py`` moves, checked at
#: start and every ``DIGIT_MODEL_CHECK_MINUTES`` (default 10), swapped in without a restart.
MODEL_FOLLOW: bool = os.environ.get("DIGIT_MODEL_FOLLOW", "") == "1"
MODEL_CHECK_SECONDS: float = 60.0 * float(os.environ.get("DIGIT_MODEL_CHECK_MINUTES", "10"))
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
#: Drawings from the sketchpad (400x400 on the page, larger on high-density screens) with more
#: pixels than this are refused before decoding: no one draws 39 MP by hand.
MAX_DRAWING_PIXELS = 4_000_000

#: The flag store takes at most this many samples (``DIGIT_MAX_FLAGS``); then flags say it is full.
MAX_FLAGS = int(os.environ.get("DIGIT_MAX_FLAGS", "50000"))
#: Flags one client may send: a burst (``DIGIT_FLAG_BURST``), then a steady rate per minute
#: (``DIGIT_FLAGS_PER_MINUTE``).
FLAG_BURST = int(os.environ.get("DIGIT_FLAG_BURST", "10"))
FLAGS_PER_MINUTE = float(os.environ.get("DIGIT_FLAGS_PER_MINUTE", "6"))
#: Salt of the anonymous client keys stored with flags (``DIGIT_CLIENT_SALT``; default: fresh per
#: process, so keys cannot be linked across restarts).
CLIENT_SALT: str = _env_str("DIGIT_CLIENT_SALT") or os.urandom(16).hex()
#: The proxies whose ``X-Forwarded-For`` is believed (``FORWARDED_ALLOW_IPS``, uvicorn's own setting:
#: addresses or networks, comma-separated; ``*`` is refused). A person is the address the nearest
#: untrusted hop was seen from, which uvicorn resolves into ``request.client.host``. This machine
#: (``127.0.0.1,::1``: the MCP server calls the app through it) is always added; on a Hugging Face
#: Space (``SPACE_ID`` set) the default also has its proxy's private network ``10.0.0.0/8``.
TRUSTED_PROXIES: str = _env_str("FORWARDED_ALLOW_IPS") or ("10.0.0.0/8,127.0.0.1,::1" if _env_str("SPACE_ID") else "127.0.0.1,::1")
#: A request's body may be at most this large (bytes): one upload of ``MAX_UPLOAD_BYTES`` and its
#: multipart framing. Larger requests are refused before their body is read.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 1024 * 1024
#: An upload request may carry at most this many files (Gradio takes up to 1,000): the page and the
#: client libraries send one image a request.
MAX_FILES_PER_REQUEST = 4
#: Calls one person may have waiting or running at once (``DIGIT_PENDING_PER_PERSON``); more are
#: refused with "too many requests from you", so the queue always has room for others.
PENDING_PER_PERSON = int(os.environ.get("DIGIT_PENDING_PER_PERSON", "6"))
#: Gradio's cache of uploaded files (``DIGIT_CACHE_EXPIRY="every,age"`` in seconds): checked every
#: 30 s, files older than 60 s deleted, so an upload is gone within 90 s. People's uploads are read
#: within seconds.
UPLOAD_CACHE_EXPIRY: tuple[int, int] = tuple(int(v) for v in os.environ.get("DIGIT_CACHE_EXPIRY", "30,60").split(","))[:2]  # type: ignore[assignment]
