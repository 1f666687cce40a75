"""The drawing as the page sends it: the ink's box as a small PNG, with the page's sequence number.

The page's hook (``web.assets.PAGE_HEAD``) sends ``{"seq": n, "png": "data:image/png;base64,..."}``
after each stroke, undo, redo or clear (``png`` null for an empty canvas), and ``{"seq": n}`` alone
with an upload's reading and a flag. ``seq`` counts the page's payloads, so the server can tell an
older drawing from a newer one whatever order they arrive in.
"""

from __future__ import annotations

import base64
import binascii
import json

from digit_core.errors import InvalidImageError

__all__ = ["Ink", "parse_ink", "MAX_INK_CHARS"]

#: A payload is refused above this many characters: the page sends at most 256 px a side, a few
#: kilobytes of PNG; a full 800x400 canvas of scribbles is under 300 kB.
MAX_INK_CHARS = 1_000_000
_PREFIX = "data:image/png;base64,"


class Ink:
    """One payload: ``seq`` (int, the page's count of payloads) and ``png`` (the PNG's bytes, or None
    for an empty canvas and for payloads that only carry a sequence number)."""

    __slots__ = ("seq", "png")

    def __init__(self, seq: int, png: bytes | None):
        self.seq = seq
        self.png = png


def parse_ink(payload: str | None) -> Ink:
    """Decode a payload of the page's hook.

    Parameters
    ----------
    payload : str or None
        The JSON text the page sends; None (an API caller's nothing) is sequence 0, no drawing.

    Returns
    -------
    Ink

    Raises
    ------
    InvalidImageError
        Not JSON, over ``MAX_INK_CHARS`` characters, ``seq`` not a non-negative integer, or ``png`` not
        a base64 PNG data URL.
    """
    if payload is None or payload == "":
        return Ink(0, None)
    if not isinstance(payload, str) or len(payload) > MAX_INK_CHARS:
        size = len(payload) if isinstance(payload, str) else type(payload).__name__
        raise InvalidImageError(f"the drawing's payload is {size}: expected JSON text of at most {MAX_INK_CHARS} characters.")
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise InvalidImageError(f"the drawing's payload is not JSON ({exc}).") from exc
    seq = data.get("seq") if isinstance(data, dict) else None
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidImageError(f"the drawing's payload has seq={seq!r}: expected a non-negative integer.")
    png = data.get("png")
    if png is None:
        return Ink(seq, None)
    if not isinstance(png, str) or not png.startswith(_PREFIX):
        raise InvalidImageError(f"the drawing's png is not a data URL starting {_PREFIX!r}.")
    try:
        return Ink(seq, base64.b64decode(png[len(_PREFIX):], validate=True))
    except (binascii.Error, ValueError) as exc:
        raise InvalidImageError(f"the drawing's png is not valid base64 ({exc}).") from exc
