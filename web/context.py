"""What every handler shares: the served model, the flag store and the flag gate."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from digit_core import config
from digit_core.flags import FlagGate, FlagStore
from digit_core.hub import LoadedModel

from .gradio_workarounds import DrawingBlobs

__all__ = ["AppContext"]

logger = logging.getLogger("digit_app")


@dataclass
class AppContext:
    """What every handler shares: the model being served, the flag store and the flag gate.

    Attributes
    ----------
    loaded : LoadedModel
        The model served now (see :meth:`swap`).
    store : FlagStore
    gate : FlagGate
        Per-client rate limit and screening of flags.
    store_problem : str or None
        Why flags cannot be saved (checked at start), shown on the page; None when all is well.
    drawings : DrawingBlobs
        The sketchpad's pictures, sent ahead of the change events that name them.
    """

    loaded: LoadedModel
    store: FlagStore
    gate: FlagGate
    store_problem: str | None = None
    drawings: DrawingBlobs = field(default_factory=DrawingBlobs)

    def swap(self, loaded: LoadedModel) -> None:
        """Serve another model from now on. Handlers take ``context.loaded`` once per request, and
        this replaces that one reference, so every answer comes from one whole model."""
        self.loaded = loaded

    @classmethod
    def create(
        cls,
        loaded: LoadedModel,
        *,
        flag_dir: str | Path = config.FLAG_DIR,
        flag_store: FlagStore | None = None,
        flag_gate: FlagGate | None = None,
    ) -> "AppContext":
        """The context for a model and a flag folder: the store is checked and cleaned up once, here."""
        store = flag_store or FlagStore.with_hub_sync(flag_dir, repo_id=config.FLAG_REPO, token=config.HF_TOKEN)
        problem = store.check_writable()
        if problem:
            logger.error("flag store unusable: %s", problem)
        else:
            removed = store.clean_orphans()
            if removed:
                logger.info("flag store: removed %d files left by an interrupted write", removed)
            logger.info("flag store %s: %s", store.root, store.counts())  # counted by that same read, never in a flag
        gate = flag_gate or FlagGate(per_minute=config.FLAGS_PER_MINUTE, burst=config.FLAG_BURST)
        return cls(loaded=loaded, store=store, gate=gate, store_problem=problem)

