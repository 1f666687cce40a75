"""Workarounds for Gradio's internals, each named for what it works around.

- :class:`Page`: ``gr.State`` hands an event its value before the event runs, so two events of one
  page could each see the other's stale reading.
- :class:`DrawingBlobs`: the sketchpad's pictures wait in a dict that only Gradio's own preprocessing
  empties (with ``preprocess=False`` it would only grow).
- :func:`sweep_upload_cache`: Gradio's ``delete_cache`` task can end for good in a burst of uploads
  ("Set changed size during iteration").
- :func:`returning_memory`: glibc keeps the memory of a large decoded image in per-thread arenas.
- :class:`RequestSizeLimit`: Gradio bounds each uploaded file (``max_file_size``, gradio-app/gradio#7825)
  only once it has been written, and takes up to 1,000 files in one upload and JSON bodies of any size.
- :func:`limit_pending_calls`: Gradio's queue has one bound (``max_size``) for everyone together.
- :class:`McpCallerAddress`: Gradio's MCP server runs a tool by calling the app again from this
  machine, with the caller's headers copied, so the caller's own ``X-Forwarded-For`` would name them.
- :func:`naming_the_url_rule`: an API caller (an MCP client above all) may send an image's URL; when Gradio's
  download refuses it (its SSRF guard, ``safehttpx``) or fails, the caller got only "The upstream Gradio
  app has raised an exception but has not enabled verbose error reporting". No upstream issue found.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
from gradio_client.utils import is_http_url_like
from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException

__all__ = [
    "Page",
    "on_page",
    "DrawingBlobs",
    "returning_memory",
    "sweep_upload_cache",
    "RequestSizeLimit",
    "McpCallerAddress",
    "app_limits",
    "limit_pending_calls",
    "naming_the_url_rule",
    "URL_RULE",
]

#: The rule an image URL sent to the API must follow for this server to fetch it (Gradio's download).
URL_RULE = (
    "this app fetches only http:// or https:// addresses on the public internet (never localhost, private, "
    "link-local or cloud-metadata addresses, including after a redirect) that answer 200 OK. Send the image "
    "itself instead, as a data URL (data:image/png;base64,...)"
)


class Page:
    """What one open page keeps between its events: the last reading, and a lock so that the
    page's events run one after another.

    Gradio hands an event its ``gr.State`` value before the event's function runs, so a plain state
    read by "Flag as wrong" while a reading of the same page was still running would be the reading
    before it, and the wrong drawing would be flagged. Every event of a page gets this one object
    instead, and reads and writes ``reading`` only while holding ``lock``: the latest reading is
    always the one seen, whichever lane (canvas or upload) each event ran in. Gradio makes one per
    page (from the class, through ``gr.State(Page)``) and drops it with the page's state.

    ``seq`` is the page's sequence number of the answer shown (see ``web.ink``): a drawing sent
    before it is never read over it. ``source`` is the tab the answer shown came from.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.reading: dict | None = None
        self.seq = 0
        self.source = "draw"

    def __deepcopy__(self, memo) -> Page:
        return Page()  # gr.State copies its first value for each page: a fresh page, lock and all


def on_page(page: Page, step) -> tuple:
    """Run ``step(reading)`` as ``page``'s next event: ``step`` gets the page's last reading and
    returns what the page shows, its new reading state last. -> the shown outputs, then ``page``."""
    with page.lock:
        *shown, page.reading = step(page.reading)
    return (*shown, page)


class DrawingBlobs(MutableMapping):
    """Where the sketchpad's drawings wait for the event that reads them, at most ``max_bytes`` in
    all, the oldest dropped first.

    While a change event is on its way, the sketchpad sends its pictures (background, composite and
    layer PNGs) to its own ``accept_blobs`` endpoint and the event carries only their id. Gradio keeps
    them in a plain dict that only its own preprocessing empties, so with ``preprocess=False``, or a
    stranger calling that endpoint in a loop, memory would only grow. Keyed by blob id; values are
    Gradio's ``EditorDataBlobs``.
    """

    def __init__(self, max_bytes: int = 64 * 2**20):
        self.max_bytes = max_bytes
        self.nbytes = 0  # held now
        self._blobs: OrderedDict[str, tuple[object, int]] = OrderedDict()
        self._guard = threading.Lock()

    @staticmethod
    def _size(blobs) -> int:
        parts = [getattr(blobs, "background", None), getattr(blobs, "composite", None), *(getattr(blobs, "layers", None) or [])]
        return sum(len(part) for part in parts if part)

    def __getitem__(self, key):
        return self._blobs[key][0]

    def __setitem__(self, key, blobs) -> None:
        with self._guard:
            self._drop(key)
            size = self._size(blobs)
            self._blobs[key] = (blobs, size)
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                self._drop(next(iter(self._blobs)))

    def __delitem__(self, key) -> None:
        with self._guard:
            if key not in self._blobs:
                raise KeyError(key)
            self._drop(key)

    def _drop(self, key) -> None:
        _, size = self._blobs.pop(key, (None, 0))
        self.nbytes -= size

    def __iter__(self):
        return iter(list(self._blobs))

    def __len__(self) -> int:
        return len(self._blobs)


def _load_libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _load_libc()


@contextmanager
def returning_memory() -> Iterator[None]:
    """Hand the memory a large image used back to the system afterwards: glibc keeps freed blocks
    in per-thread arenas, so without this the server's resident size only grows. No-op elsewhere."""
    try:
        yield
    finally:
        if _LIBC is not None:
            _LIBC.malloc_trim(0)


def sweep_upload_cache(demo: gr.Blocks, *, every: float, age: float, stop: threading.Event) -> None:
    """Delete uploaded files older than ``age`` seconds, every ``every`` seconds, until ``stop`` is set.

    Gradio's own ``delete_cache`` task walks the live set of uploaded files while uploads add to it,
    and a burst of uploads can end that task for good ("Set changed size during iteration"); this
    loop works on a copy, so the disk stays bounded whatever arrives.
    """
    while not stop.wait(every):
        keep = set()
        for block in demo.blocks.values():
            keep.update(getattr(block, "keep_in_cache", ()))
        now = time.time()
        for tracked in demo.temp_file_sets:
            for name in tracked.copy():
                if name in keep:
                    continue
                try:
                    path = Path(name)
                    if now - path.lstat().st_ctime > age:
                        path.unlink()
                        tracked.discard(name)
                except FileNotFoundError:
                    tracked.discard(name)
                except OSError:
                    continue



#: What starts each file's part in a multipart body (its Content-Disposition's file name).
_FILE_PART = b'filename="'


class _TooLarge(MultiPartException):
    """A body sent without a declared length grew past the limit. A ``MultiPartException``, so that
    Gradio's upload parser deletes the files it had begun writing, as it does for its own errors."""


class RequestSizeLimit:
    """ASGI middleware: refuse a request whose body is larger than ``max_bytes`` with a 413 whose
    ``detail`` names the limit: by its declared ``Content-Length`` before any of it is read, or,
    sent without one (chunked), as soon as what arrived passes the limit; and an upload of more than
    ``max_files`` files as soon as the part of the file past the limit begins (the files before it are
    deleted by Gradio's parser, as for its own errors).

    Gradio checks an uploaded file's size only after writing it to disk, accepts up to 1,000 files in
    one upload, and reads JSON bodies of any size into memory (FastAPI's own ``max_body_size``
    refuses them too, but its plain "Content Too Large" would replace this message).
    """

    def __init__(self, app, max_bytes: int, max_files: int):
        self.app = app
        self.max_bytes = max_bytes
        self.max_files = max_files

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(self._size_detail(f"This request is {int(declared) / 2**20:.1f} MB"), send)
            return
        if declared is not None and not headers.get("content-type", "").startswith("multipart/"):
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope, receive, send) -> None:
        """Pass the body on while counting it; once past the limit, the app's reading fails and,
        whatever the app answers to that, the answer is this refusal."""
        received, files, tail, exceeded, started = 0, 0, b"", None, False

        async def counting_receive():
            nonlocal received, files, tail, exceeded
            message = await receive()
            chunk = message.get("body", b"")
            received += len(chunk)
            files += (tail + chunk).count(_FILE_PART) - tail.count(_FILE_PART)  # a part's header may span chunks
            tail = (tail + chunk)[-len(_FILE_PART) :]
            if received > self.max_bytes:
                exceeded = self._size_detail("This request is too large")
            elif files > self.max_files and scope.get("path", "").endswith("/upload"):
                exceeded = (
                    f"This request sends {files} or more files; the limit is {self.max_files} "
                    f"file{'s' if self.max_files > 1 else ''} a request. Send one image at a time."
                )
            if exceeded:
                raise _TooLarge(exceeded)
            return message

        async def answering_send(message):
            nonlocal started
            if exceeded and not started:
                return  # replaced by the refusal below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, answering_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(exceeded, send)

    def _size_detail(self, what: str) -> str:
        limit_mb = self.max_bytes / 2**20
        return f"{what}; the limit is {limit_mb:.0f} MB a request (one image of at most {limit_mb - 1:.0f} MB). Send one smaller image at a time."

    async def _refuse(self, detail: str, send) -> None:
        body = json.dumps({"detail": detail, "error": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class McpCallerAddress:
    """ASGI middleware: an MCP request's ``X-Forwarded-For`` becomes the one address uvicorn resolved
    for its caller (``scope["client"]``), whatever the caller wrote there.

    Gradio's MCP server runs a queued tool by calling the app again through its own HTTP client, from
    this machine (127.0.0.1, trusted as a proxy), with the MCP request's headers copied. Without this,
    that second request's person would be whatever the caller wrote into ``X-Forwarded-For`` (or,
    without the header, this machine: every MCP caller one person). No upstream issue found.
    """

    def __init__(self, app, path: str = "/gradio_api/mcp"):
        self.app = app
        self.path = path

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope.get("client") and scope.get("path", "").startswith(self.path):
            headers = [(name, value) for name, value in scope["headers"] if name != b"x-forwarded-for"]
            headers.append((b"x-forwarded-for", str(scope["client"][0]).encode("latin-1")))
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def app_limits(max_bytes: int, max_files: int) -> dict:
    """The ``app_kwargs`` for ``launch``: every request's body bounded at ``max_bytes`` and
    ``max_files`` uploaded files (:class:`RequestSizeLimit`), MCP callers named by their own address
    (:class:`McpCallerAddress`)."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(RequestSizeLimit, max_bytes=max_bytes, max_files=max_files), Middleware(McpCallerAddress)]}


def limit_pending_calls(demo: gr.Blocks, pending) -> None:
    """Refuse a call to ``demo``'s queue (page events, the API and MCP tools alike) when
    ``pending.refusal`` says so: HTTP 429 with its message, which the page shows and the client
    libraries raise. ``pending`` is a :class:`web.people.PendingCalls`. Call after ``demo.queue()``.

    Gradio's queue has no bound per person: its ``max_size`` is shared, so one person posting many
    calls at once filled it and everyone else got "Queue is full". This wraps the queue's ``push``,
    and ``demo.process_api`` for the events that skip the queue (``queue=False``: the drawing's
    reading), which count as pending while they run and are refused with a ``gr.Error``.
    """
    queue = demo._queue
    push = queue.push
    process_api = demo.process_api

    @contextmanager
    def admitted(client, username, refuse):
        """Count the call as the person's while it is admitted; ``refuse(message)`` is raised when
        they already have their limit waiting or running."""
        refusal = pending.refusal(client, username, list(queue.event_ids_to_events.values()))
        if refusal:
            raise refuse(refusal)
        try:
            yield
        finally:
            pending.done_admitting(client, username)

    async def process_if_admitted(block_fn, inputs, state=None, request=None, *args, **kwargs):
        fn = demo.fns[block_fn] if isinstance(block_fn, int) else block_fn
        if fn.queue or request is None or isinstance(request, list):
            return await process_api(block_fn, inputs, state, request, *args, **kwargs)
        with admitted(getattr(request, "client", None), getattr(request, "username", None), lambda why: gr.Error(why, print_exception=False)):
            return await process_api(block_fn, inputs, state, request, *args, **kwargs)

    demo.process_api = process_if_admitted

    async def push_if_admitted(body, request, username):
        with admitted(getattr(request, "client", None), username, lambda why: HTTPException(status_code=429, detail=why)):
            return await push(body=body, request=request, username=username)

    queue.push = push_if_admitted


def naming_the_url_rule(component: gr.components.Component) -> gr.components.Component:
    """Make ``component`` (the API's image input) name the rule (``URL_RULE``), the address and why
    when Gradio's download of a URL it was sent fails, instead of Gradio's opaque "raised an
    exception" (the download happens before the handler runs, even with ``preprocess=False``).
    Wraps the instance's own method: a subclass of ``gr.File`` would make Gradio write a ``.pyi``
    stub beside this module. -> ``component``."""
    download = component.async_move_resource_to_block_cache

    async def move_or_fetch(url_or_file_path):
        try:
            return await download(url_or_file_path)
        except Exception as exc:
            if not (isinstance(url_or_file_path, str) and is_http_url_like(url_or_file_path)):
                raise
            why = str(exc) or type(exc).__name__
            if "failed validation" in why:
                why = "its host is not a public internet address"
            raise gr.Error(f"The image at {url_or_file_path} could not be fetched ({why}): {URL_RULE}.", print_exception=False) from exc

    component.async_move_resource_to_block_cache = move_or_fetch
    return component
