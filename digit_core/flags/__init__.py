"""The flag lifecycle: a person flags a reading -> it is stored pending -> a reviewer decides ->
accepted samples train the next model, a fixed part held out to compare models on.

- ``record``: the record, its schema (versioned) and the folder layout; the one parser.
- ``store``: :class:`FlagStore`: append, review decisions, counts, crash clean-up, Hub sync.
- ``gate``: :class:`FlagGate` (rate limits and screening), :func:`client_key`, and the review helpers.
- ``dataset``: what training reads: accepted frames, deduplicated, the hold-out decided once.
"""

from .dataset import FLAG_HELD_OUT_FRACTION, FlagData, held_out_flags, load_extra_folder, load_flag_data
from .gate import FlagGate, client_key
from .record import SCHEMA_VERSION, SOURCES, STATUSES, VERDICTS, FlaggedSample, read_flags, read_reviews, validate_label
from .store import MAX_SAMPLES, FlagStore

__all__ = [
    "FLAG_HELD_OUT_FRACTION",
    "MAX_SAMPLES",
    "SCHEMA_VERSION",
    "SOURCES",
    "STATUSES",
    "VERDICTS",
    "FlagData",
    "FlagGate",
    "FlagStore",
    "FlaggedSample",
    "client_key",
    "held_out_flags",
    "load_extra_folder",
    "load_flag_data",
    "read_flags",
    "read_reviews",
    "validate_label",
]
