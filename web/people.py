"""Who sent a request: one rule for who a person is, used by everything that limits or records one."""

from __future__ import annotations

import gradio as gr

from digit_core import config
from digit_core.flags import client_key

__all__ = ["client_of"]


def client_of(request: gr.Request | None) -> str:
    """The anonymous key of whoever sent a request: the signed-in Hugging Face user, else the
    address (behind a Space's proxy, the first ``X-Forwarded-For`` address)."""
    if request is None:
        return client_key(None)
    username = getattr(request, "username", None)
    address = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for") if config.BEHIND_PROXY else None
    if forwarded:
        address = forwarded.split(",")[0].strip()
    return client_key(address, username=username)

