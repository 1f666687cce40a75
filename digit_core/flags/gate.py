"""The gate between a stranger's flag and the next model: rate limits, screening, and review.

A public link lets anyone flag. :class:`FlagGate` keeps the next model out of one stranger's hands:
a per-client rate limit (a token bucket: a burst, then a steady rate) and automatic screening that
marks a flag *suspicious* when the model was very sure of another digit, or when the same client
sent many near-identical drawings. Every flag is stored as pending anyway
(:mod:`digit_core.flags.store`); screening only decides what a reviewer sees first. The review
helpers (:func:`review_order`, :func:`select`, :func:`summarise`, :func:`contact_sheet`) are what
``scripts/flags.py`` prints and decides with.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable

import numpy as np
from PIL import Image

from .. import config
from ..errors import DigitCoreError, FlagNotFoundError, RateLimitedError
from ..evaluation import gallery_image
from ..framing import FRAME_SIZE, to_mnist_frame
from ..images import open_image
from ..reading import a_digit
from .record import STATUSES, FlaggedSample

__all__ = [
    "FlagGate",
    "client_key",
    "SURE_OF_ANOTHER",
    "NEAR_IDENTICAL",
    "NEAR_IDENTICAL_COUNT",
    "SELECTORS",
    "status_counts",
    "review_order",
    "select",
    "summarise",
    "contact_sheet",
]

#: A correction is suspicious when the model gave the digit it read at least this probability...
SURE_OF_ANOTHER = 0.98
#: ...or when the frame lies within this mean absolute pixel difference (0-1 scale) of at least
#: ``NEAR_IDENTICAL_COUNT`` recent flags of the same client with the same label.
NEAR_IDENTICAL = 0.04
NEAR_IDENTICAL_COUNT = 2
#: Bulk selectors for review decisions; each picks among pending samples only.
SELECTORS = ("all", "suspicious", "unsuspicious")


def client_key(address: str | None, *, username: str | None = None) -> str:
    """An anonymous key for whoever sent a request: a salted hash (``config.CLIENT_SALT``), 16 hex
    digits; addresses are never stored.

    Parameters
    ----------
    address : str or None
        The client's address (behind a proxy, the first address of ``X-Forwarded-For``).
    username : str, optional
        The Hugging Face user, when the Space signs people in (OAuth); preferred over the address.
    """
    who = f"user:{username}" if username else f"addr:{address or 'unknown'}"
    return hashlib.sha256(f"{config.CLIENT_SALT}:{who}".encode()).hexdigest()[:16]


class FlagGate:
    """Per-client rate limit and screening for flags. Thread-safe; memory bounded by ``max_clients``.

    Parameters
    ----------
    per_minute : float
        Steady flags per minute each client may send.
    burst : int
        Flags a client may send at once before the steady rate applies.
    recent : int
        Frames remembered per client for near-duplicate screening.
    max_clients : int
        Clients remembered; the least recently seen are forgotten first.
    clock : callable
        Seconds, monotonic (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        per_minute: float = 6.0,
        burst: int = 10,
        recent: int = 20,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.per_minute = per_minute
        self.burst = burst
        self.recent = recent
        self.max_clients = max_clients
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, time)
        self._frames: OrderedDict[str, deque] = OrderedDict()  # client -> recent (label, frame)

    def admit(self, client: str, count: int = 1) -> None:
        """Take ``count`` flags (the digits of a number) from the client's allowance: all or none.

        Raises
        ------
        RateLimitedError
            The client has used its allowance; the message says how long to wait.
        """
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.per_minute / 60.0)
            if tokens < count:
                self._remember(self._buckets, client, (tokens, now))
                if count > self.burst:
                    raise RateLimitedError(f"too many digits at once: at most {self.burst} flags at once from one person.")
                wait = (count - tokens) * 60.0 / self.per_minute
                raise RateLimitedError(
                    f"slow down: at most {self.burst} flags at once and {self.per_minute:g} a minute "
                    f"from one person. Try again in {int(np.ceil(wait))} s."
                )
            self._remember(self._buckets, client, (tokens - count, now))

    def suspicion(self, client: str, *, label: int, frame: np.ndarray | None, probabilities=None) -> list[str]:
        """Why a reviewer should look at this flag first (empty: nothing seen); remembers the frame.

        Parameters
        ----------
        client : str
        label : int
            The digit the person says it is.
        frame : ndarray of shape (28, 28), float in [0, 1], or None
        probabilities : sequence of 10 floats, optional
            What the model read.
        """
        reasons = []
        if probabilities is not None:
            probabilities = np.asarray(probabilities, dtype=float)
            read = int(np.argmax(probabilities))
            if read != label and probabilities[read] >= SURE_OF_ANOTHER:
                reasons.append(f"the model was {probabilities[read]:.0%} sure it is {a_digit(read)}")
        if frame is None:
            return reasons
        frame = np.asarray(frame, dtype=np.float32)
        with self._lock:
            history = self._frames.pop(client, None) or deque(maxlen=self.recent)
            alike = sum(
                1 for seen_label, seen in history if seen_label == label and float(np.abs(seen - frame).mean()) <= NEAR_IDENTICAL
            )
            history.append((label, frame))
            self._remember(self._frames, client, history)
        if alike >= NEAR_IDENTICAL_COUNT:
            reasons.append(f"{alike} near-identical flags labelled {label} from the same client")
        return reasons

    def _remember(self, table: OrderedDict, client: str, value) -> None:
        table[client] = value
        while len(table) > self.max_clients:
            table.popitem(last=False)


def status_counts(samples: list[FlaggedSample]) -> dict[str, int]:
    """``{"pending": n, "accepted": n, "rejected": n}``."""
    counts = Counter(sample.status for sample in samples)
    return {status: counts.get(status, 0) for status in STATUSES}


def review_order(samples: list[FlaggedSample]) -> list[FlaggedSample]:
    """Pending samples, the suspicious first, oldest first within each group."""
    pending = [s for s in samples if s.status == "pending"]
    return sorted(pending, key=lambda s: (not s.suspicion, s.metadata.get("timestamp", "")))


def select(samples: list[FlaggedSample], selectors: list[str]) -> list[str]:
    """Sample ids for ids, unique id prefixes or bulk selectors (:data:`SELECTORS`), each once.

    Raises
    ------
    FlagNotFoundError
        An id matches no sample or more than one.
    """
    pending = [s for s in samples if s.status == "pending"]
    bulk = {
        "all": [s.id for s in pending],
        "suspicious": [s.id for s in pending if s.suspicion],
        "unsuspicious": [s.id for s in pending if not s.suspicion],
    }
    chosen: list[str] = []
    for selector in selectors:
        if selector in bulk:
            chosen += bulk[selector]
            continue
        matches = [s.id for s in samples if s.id.startswith(selector.lower())]
        if len(matches) != 1:
            found = "no sample" if not matches else f"{len(matches)} samples"
            raise FlagNotFoundError(f"id {selector!r} matches {found}; give more of the id, or one of {', '.join(SELECTORS)}.")
        chosen += matches
    return list(dict.fromkeys(chosen))


def summarise(samples: list[FlaggedSample]) -> dict:
    """Counts by status, the number of samples, per label, per verdict, and the misread pairs
    (``"read->was"``, most frequent first)."""
    labels = Counter(s.label for s in samples)
    pairs = Counter(f"{s.metadata.get('predicted')}->{s.label}" for s in samples if s.metadata.get("verdict") == "wrong")
    return {
        **status_counts(samples),
        "samples": len(samples),
        "per_label": {str(d): labels.get(d, 0) for d in range(10)},
        "verdicts": dict(Counter(s.metadata.get("verdict", "wrong") for s in samples)),
        "wrong_pairs": dict(pairs.most_common()),
    }


def contact_sheet(samples: list[FlaggedSample]) -> Image.Image:
    """The samples' frames in a grid, each with its label and the digit the model read, in order."""
    frames = np.stack([_review_frame(s) for s in samples])
    predicted = np.array([s.metadata.get("predicted") if s.metadata.get("predicted") is not None else -1 for s in samples])
    return gallery_image(frames, np.array([s.label for s in samples]), predicted, limit=len(samples))


def _review_frame(sample: FlaggedSample) -> np.ndarray:
    try:
        stored = sample.served_frame()
        return stored if stored is not None else to_mnist_frame(open_image(sample.path))
    except (DigitCoreError, ValueError):
        return np.zeros((FRAME_SIZE, FRAME_SIZE), dtype=np.float32)
