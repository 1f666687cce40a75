"""Who sent a request, and how much one person may ask of the server at once.

One rule for who a person is, used by everything that limits or records one (the flag budget, the
near-duplicate screening, the calls waiting in the queue): the signed-in Hugging Face user, else
the address the nearest trusted proxy saw. uvicorn, which Gradio starts with ``proxy_headers=True``,
resolves that address into ``request.client.host``: for a connection from one of the proxies named
in ``FORWARDED_ALLOW_IPS`` it takes the rightmost ``X-Forwarded-For`` address that is not itself a
trusted proxy, i.e. the one the proxy appended; from anyone else it ignores the header. The
addresses a client writes into ``X-Forwarded-For`` itself are never believed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

import gradio as gr

from digit_core import config
from digit_core.flags import client_key

__all__ = ["client_of", "person_of", "trusted_proxies", "PendingCalls"]


def person_of(client, username: str | None = None) -> str:
    """The anonymous key of a person: the signed-in user, else the address of ``client`` (a
    ``(host, port)`` pair or an object with ``.host``, as Starlette and uvicorn give it).

    Parameters
    ----------
    client : starlette ``Address``, tuple or None
        The request's ``client``, already resolved by uvicorn from the trusted proxy's headers.
    username : str, optional
        The Hugging Face user, when the Space signs people in.
    """
    host = getattr(client, "host", None) or (client[0] if isinstance(client, tuple) and client else None)
    return client_key(host, username=username)


def client_of(request: gr.Request | None) -> str:
    """The anonymous key of whoever sent a request (see the module's rule); one shared key when
    there is no request (a handler called directly, as the tests do)."""
    if request is None:
        return client_key(None)
    return person_of(getattr(request, "client", None), getattr(request, "username", None))


#: This machine: Gradio's MCP server calls the app through it (see ``McpCallerAddress``).
LOOPBACK = ("127.0.0.1", "::1")


def trusted_proxies(value: str = config.TRUSTED_PROXIES) -> str:
    """The proxies uvicorn may believe (``FORWARDED_ALLOW_IPS``), checked, with this machine added.

    Raises
    ------
    ValueError
        For ``*``: every client could then name itself in ``X-Forwarded-For``.
    """
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if "*" in parts:
        raise ValueError(
            f"FORWARDED_ALLOW_IPS={value!r}: '*' would believe the X-Forwarded-For any client writes. "
            "Name the proxy's addresses or network instead, e.g. FORWARDED_ALLOW_IPS=10.0.0.0/8."
        )
    return ",".join(parts + [address for address in LOOPBACK if address not in parts])


class PendingCalls:
    """At most ``limit`` calls waiting or running per person; the rest are refused with a message.

    The queue's own bound (``max_size``) is shared by everyone: one person posting many calls at
    once would fill it. Counting each person's calls among the queue's events keeps room for
    the others. Thread-safe.

    Parameters
    ----------
    limit : int
        Calls one person may have waiting or running at once (``DIGIT_PENDING_PER_PERSON``).
    """

    def __init__(self, limit: int = config.PENDING_PER_PERSON):
        self.limit = limit
        self._admitting: Counter[str] = Counter()  # admitted, not yet among the queue's events
        self._guard = threading.Lock()

    def refusal(self, client, username: str | None, events: Iterable) -> str | None:
        """The message refusing a new call from this person, or None to admit it (then
        :meth:`done_admitting` once the queue holds it). ``events`` are the queue's waiting and
        running events, each with ``.request`` and ``.username``."""
        person = person_of(client, username)
        with self._guard:
            pending = self._admitting[person] + sum(
                1 for event in events if person_of(getattr(event.request, "client", None), event.username) == person
            )
            if pending >= self.limit:
                return (
                    f"Too many requests from you: at most {self.limit} at once, and {pending} of yours are "
                    "still waiting or running. Wait for their answers, then send more."
                )
            self._admitting[person] += 1
        return None

    def done_admitting(self, client, username: str | None) -> None:
        person = person_of(client, username)
        with self._guard:
            self._admitting[person] -= 1
            if self._admitting[person] <= 0:
                del self._admitting[person]
