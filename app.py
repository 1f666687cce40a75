"""Handwritten digit recogniser: a Gradio app (Hugging Face Space).

Draw a digit or upload a scan; a calibrated SVC reads it; say when it is wrong and the drawing becomes
training data. Every image step and the model come from ``digit_core``; this file only lays out the
page and turns errors into messages for people.

    python app.py            # http://127.0.0.1:7860
    python app.py --share    # and a public link
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import io
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from digit_core import config
from digit_core.errors import DigitCoreError, InvalidImageError, InvalidLabelError, NoDigitFoundError, NotADigitError
from digit_core.flags import FlagStore, validate_label
from digit_core.hub import PROMOTED_TAG, LoadedModel, ModelFollower, resolve_model
from digit_core.images import ACCEPTED_FORMATS, open_image, shrink
from digit_core.reading import ReadDigit, Reading, a_digit, read_digits
from digit_core.flags import FlagGate, client_key

logger = logging.getLogger("digit_app")

#: Below this calibrated probability the app says "not sure" instead of naming a digit.
NOT_SURE_BELOW = 0.6
#: The 28x28 frame is shown this many pixels wide, enlarged without smoothing.
FRAME_DISPLAY_SIZE = 224
#: Uploads are shown at most this wide or tall (boxes are scaled to match).
DISPLAY_SIDE = 1024
#: A session keeps the image it may flag at most this many pixels on its longer side.
FLAG_IMAGE_SIDE = 640
#: A session's state (its last reading) is dropped this long after its last use.
STATE_SECONDS = 15 * 60
#: Two workers for a 2-core machine: each prediction is CPU-bound and takes a few milliseconds.
CONCURRENCY = 2
DRAW_FIRST = "Draw a digit first."
#: The sketchpad's canvas, wide enough for a number of several digits.
CANVAS_SIZE = (800, 400)
#: Page styles (``launch(css=PAGE_CSS)``): no zoom, pan or colour controls on the canvas (there is
#: one colour, and zooming a canvas this size helps no one), no page chrome crowding a phone.
PAGE_CSS = """
#sketchpad button[aria-label="Pan"], #sketchpad button[aria-label="Zoom in"],
#sketchpad button[aria-label="Zoom out"], #sketchpad .zoom-number,
#sketchpad button[aria-label="Color"] { display: none !important; }
#message { min-height: 2.5em; font-size: 1.1em; }
@media (max-width: 640px) {
  #sketchpad { height: 250px !important; }
  /* the tool bar sits at the left edge: keep the canvas clear of it */
  #sketchpad .pixi-target, #sketchpad .pixi-target-crop { left: 48px !important; width: calc(100% - 48px) !important; }
}
"""
#: Gradio's sketchpad starts with no tool chosen; pick the brush so people can draw at once. Only
#: when it is not already chosen: clicking the chosen brush again drops it, and on a busy machine this
#: can run after the person has started the next drawing (half a 7 drawn, the rest lost).
SELECT_BRUSH_JS = """
() => {
  let tries = 0;
  const pick = () => {
    const brush = document.querySelector('#sketchpad button[aria-label="Brush"]');
    const chosen = brush && brush.classList.contains('highlight');
    if (brush && !chosen) brush.click();
    if (tries++ < 40 && !chosen) setTimeout(pick, 250);
  };
  setTimeout(pick, 300);
}
"""
#: "Clear" and a saved flag clear the canvas in the browser, with the canvas's own trash button,
#: whose clear event then resets the answer and chooses the brush again. Never by sending the
#: sketchpad an empty value from the server: that covers the canvas with a progress spinner while
#: the event waits in the queue, and the sketchpad does not always apply it (the old strokes stayed
#: on a busy machine).
CLEAR_CANVAS_JS = """
(status) => {
  if (typeof status === 'string' && !status.startsWith('Saved')) return;
  const trash = document.querySelector('#sketchpad button[aria-label="Clear canvas"]');
  if (trash) trash.click();
}
"""
UPLOAD_FIRST = f"Upload an image first ({ACCEPTED_FORMATS})."


class Page:
    """What one open page keeps between its events: the last reading, and a lock so that the
    page's events run one after another.

    Gradio hands an event its ``gr.State`` value before the event's function runs, so a plain state
    read by "Flag as wrong" while a reading of the same page was still running would be the reading
    before it, and the wrong drawing would be flagged. Every event of a page gets this one object
    instead, and reads and writes ``reading`` only while holding ``lock``: the latest reading is
    always the one seen, whichever lane (canvas or upload) each event ran in. Gradio makes one per
    page (from the class, through ``gr.State(Page)``) and drops it with the page's state.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.reading: dict | None = None

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


def right_digits(answer, count: int) -> list[int]:
    """The digits a person says a reading of ``count`` digits should have been: ``"42"``, ``" 4 2 "``
    or ``7`` (an API's integer).

    Raises
    ------
    InvalidLabelError
        Not digits 0-9 only, or not as many digits as were read (the message says both counts).
    """
    if not isinstance(answer, str):
        label = validate_label(answer)
        if count != 1:
            _count_mismatch(str(label), count)
        return [label]
    text = "".join(answer.split())
    if not text or not text.isascii() or not text.isdigit():
        raise InvalidLabelError(f"{answer!r} is not a digit or a number: type digits 0-9 only.")
    if len(text) != count:
        _count_mismatch(text, count)
    return [int(c) for c in text]


def _count_mismatch(text: str, count: int):
    digits = lambda n: "1 digit" if n == 1 else f"{n} digits"  # noqa: E731
    raise InvalidLabelError(
        f"it read {digits(count)} and you typed {digits(len(text))} ({text}). Flag a number with as many "
        "digits as it found (draw them a little apart so each is found), or one digit at a time."
    )


def store_flags(context: AppContext, labels: list[int], reading: dict, *, verdict: str, client: str) -> list[str]:
    """Screen and store each digit of a reading with its label, as its own pending sample; return
    the ids. (Callers take the client's turn at the rate limit first, ``context.gate.admit``.)

    Raises
    ------
    InvalidImageError, FlagStoreError
        The message says why; the digits stored before the failure stay stored.
    """
    ids = []
    for label, digit in zip(labels, reading["digits"]):
        suspicion = context.gate.suspicion(client, label=label, frame=digit["frame"], probabilities=digit["probabilities"])
        ids.append(
            context.store.add(
                Image.open(io.BytesIO(digit["image_png"])),
                label=label,
                frame=digit["frame"],
                predicted=digit["digit"],
                probabilities=digit["probabilities"],
                model_id=reading.get("model_id", "unknown"),
                model_revision=reading.get("model_revision"),
                source=reading.get("source", "api"),
                verdict=verdict,
                client=client,
                suspicion=suspicion,
            )
        )
    return ids


# --- turning readings into what the page shows -------------------------------------------------


def frame_picture(frame: np.ndarray) -> np.ndarray:
    """The 28x28 frame enlarged without smoothing, white digit on black, uint8."""
    scale = FRAME_DISPLAY_SIZE // frame.shape[0]
    return np.kron(np.uint8(np.clip(frame, 0, 1) * 255), np.ones((scale, scale), dtype=np.uint8))


def boxes_picture(image, reading: Reading) -> np.ndarray:
    """A drawn number as the model read it: the drawing on white, each digit's box with its reading;
    at most FRAME_DISPLAY_SIZE * 2 pixels wide, RGB uint8."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    shown = Image.new("RGBA", picture.size, "white")
    shown.alpha_composite(picture.convert("RGBA"))
    shown = shown.convert("RGB")
    draw = ImageDraw.Draw(shown)
    line = max(2, shown.width // 200)
    for digit in reading.digits:
        left, top, right, bottom = digit.box
        colour = (220, 120, 0) if digit.confidence < NOT_SURE_BELOW else (0, 150, 70)
        draw.rectangle((left, top, right - 1, bottom - 1), outline=colour, width=line)
        draw.text((left + line, max(0, top - 14 * line)), str(digit.digit), fill=colour, font_size=12 * line)
    shown.thumbnail((2 * FRAME_DISPLAY_SIZE, 2 * FRAME_DISPLAY_SIZE))
    return np.asarray(shown)


def verdict_message(prediction: ReadDigit) -> str:
    top = prediction.top(2)
    (first, p1), (second, p2) = list(top.items())
    if prediction.confidence < NOT_SURE_BELOW:
        return (
            f"**Not sure.** Maybe {a_digit(first)} ({p1:.0%}) or {a_digit(second)} ({p2:.0%}). "
            "Try writing it larger and clearer."
        )
    article, _ = a_digit(first).split(" ")
    return f"It's {article} **{first}** ({p1:.0%} sure)."


def reading_state(reading: Reading, image, source: str, loaded: LoadedModel) -> dict:
    """What a flag needs of one reading, kept per session: for each digit its frame, what was read
    and its image as a PNG at most FLAG_IMAGE_SIDE pixels a side (tens of kilobytes, never the
    decoded upload: the whole image for a single digit, the digit's box for a number), and which
    model read it."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    return {
        "digits": [
            {
                "image_png": flag_png(picture if len(reading.digits) == 1 else digit_crop(picture, digit.box)),
                "frame": digit.frame,
                "digit": digit.digit,
                "probabilities": digit.probabilities.tolist(),
            }
            for digit in reading.digits
        ],
        "source": source,
        "model_id": loaded.model_id,
        "model_revision": loaded.revision,
    }


def digit_crop(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """One digit of a number: its box, with a margin of a tenth of its height."""
    left, top, right, bottom = box
    margin = max(2, (bottom - top) // 10)
    return image.crop((max(0, left - margin), max(0, top - margin), min(image.width, right + margin), min(image.height, bottom + margin)))


def flag_png(image) -> bytes:
    """The image as a flag stores it, PNG-encoded: at most FLAG_IMAGE_SIDE pixels on its longer side."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    if max(picture.size) > FLAG_IMAGE_SIDE:
        picture, _ = shrink(picture, FLAG_IMAGE_SIDE)
        picture = picture.copy()  # never the caller's image, even when shrink left it as it was
        picture.thumbnail((FLAG_IMAGE_SIDE, FLAG_IMAGE_SIDE))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def upload_picture(image: Image.Image) -> tuple[Image.Image, float]:
    """The upload as shown: RGB with transparency on white, at most DISPLAY_SIDE; and its scale."""
    image, factor = shrink(image, DISPLAY_SIDE)  # never a full-size copy of a large photo
    rgba = image.convert("RGBA")
    shown = Image.new("RGBA", rgba.size, "white")
    shown.alpha_composite(rgba)
    shown = shown.convert("RGB")
    scale = min(1.0, DISPLAY_SIDE / max(shown.size))
    if scale < 1.0:
        shown = shown.resize((max(1, round(shown.width * scale)), max(1, round(shown.height * scale))))
    return shown, scale / factor


def annotations(reading: Reading, scale: float) -> list[tuple[tuple[int, int, int, int], str]]:
    return [
        (tuple(int(round(v * scale)) for v in d.box), f"{i + 1}: {d.digit} ({d.confidence:.0%})")
        for i, d in enumerate(reading.digits)
    ]


def _payload_path(payload) -> str | None:
    """The file path of an upload, from a FileData payload (preprocess=False) or a plain path."""
    if payload is None:
        return None
    if isinstance(payload, (str, Path)):
        return str(payload)
    if isinstance(payload, dict):
        return payload.get("path")
    return getattr(payload, "path", None)


def _drawing(editor_value, drawings: DrawingBlobs) -> Image.Image | np.ndarray | None:
    """The sketchpad's composite image, decoded by :func:`digit_core.images.open_image` under the
    same size limits as an upload (``preprocess=False``). It arrives as a file, or, in a change
    event, as the id of the pictures the sketchpad sent ahead into ``drawings``."""
    if editor_value is None:
        return None
    if isinstance(editor_value, dict):
        if editor_value.get("composite") is None and editor_value.get("id") is not None:
            blobs = drawings.get(str(editor_value["id"]))
            composite = getattr(blobs, "composite", None)
            return open_image(composite, max_pixels=config.MAX_DRAWING_PIXELS) if composite else None
        composite = editor_value.get("composite")
    else:
        composite = getattr(editor_value, "composite", editor_value)
    if composite is None:
        return None
    path = _payload_path(composite)
    if path is None:
        return np.asarray(composite)
    return open_image(path, max_pixels=config.MAX_DRAWING_PIXELS)


# --- handlers: inputs in, what the page shows out (no Gradio components here) -------------------


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


def read_drawing(context: AppContext, editor_value):
    """Sketchpad value -> (top 3, picture of what the model saw, message, reading state).

    A single digit shows its top 3 and its 28x28 frame; a number shows the drawing with each digit's
    box and reading, and no top 3."""
    try:
        drawing = _drawing(editor_value, context.drawings)
        if drawing is None:
            return None, None, DRAW_FIRST, None
        loaded = context.loaded  # one model for the whole request, whatever a swap does meanwhile
        reading = read_digits(loaded.model, drawing)
    except NoDigitFoundError:
        return None, None, DRAW_FIRST, None
    except DigitCoreError as exc:
        return None, None, f"Could not read the drawing: {exc}", None
    first = reading.digits[0]
    if reading.refusal():  # kept as the reading: if it is a digit after all, it can be flagged
        picture = frame_picture(first.frame) if len(reading.digits) == 1 else boxes_picture(drawing, reading)
        return None, picture, refusal_message(reading), reading_state(reading, drawing, "draw", loaded)
    if len(reading.digits) == 1:
        return first.top(3), frame_picture(first.frame), verdict_message(first), reading_state(reading, drawing, "draw", loaded)
    return None, boxes_picture(drawing, reading), number_message(reading), reading_state(reading, drawing, "draw", loaded)


def read_upload(context: AppContext, payload):
    """Uploaded file -> (boxes picture, number, top 3, frame picture, message, reading state)."""
    with returning_memory():
        return _read_upload(context, payload)


def _read_upload(context: AppContext, payload):
    path = _payload_path(payload)
    if path is None:
        return None, "", None, None, UPLOAD_FIRST, None
    try:
        image = open_image(path)
        loaded = context.loaded
        reading = read_digits(loaded.model, image)
    except NoDigitFoundError:
        return None, "", None, None, "No digit found in this image. Upload a photo or scan with dark digits on light paper (or the reverse).", None
    except InvalidImageError as exc:
        return None, "", None, None, f"This file can't be read: {exc}", None
    except DigitCoreError as exc:
        return None, "", None, None, f"Could not read the image: {exc}", None
    shown, scale = upload_picture(image)
    first = reading.digits[0]
    single = len(reading.digits) == 1
    refused = reading.refusal() is not None
    return (
        (shown, annotations(reading, scale)),
        "" if refused else reading.text,
        first.top(3) if single and not refused else None,  # a number has no top 3: the message says it
        frame_picture(first.frame) if single else None,
        refusal_message(reading) if refused else verdict_message(first) if single else number_message(reading),
        reading_state(reading, image, "upload", loaded),
    )


def refusal_message(reading: Reading) -> str:
    """What the page says when a mark does not look like a digit, and how to go on."""
    reason = reading.refusal().removeprefix("not a digit: ")
    return reason[0].upper() + reason[1:] + " If it is a digit, type it and press **Flag as wrong**."


def number_message(reading: Reading) -> str:
    """What the page says of a number: the digits, how sure, which digits are doubtful, how to correct it."""
    unsure = [str(i + 1) for i, d in enumerate(reading.digits) if d.confidence < NOT_SURE_BELOW]
    message = f"Read **{reading.text}** ({reading.confidence:.0%} sure of the whole number)."
    if unsure:
        message += f" Not sure about digit {', '.join(unsure)}."
    return message + " If it is wrong, type the right number and press **Flag as wrong**."


def clear_drawing(context: AppContext, flag_status: str | None = None):
    """-> (top 3, frame picture, message, flag status, reading state), all reset but a flag's
    "Saved" confirmation (a saved flag clears the canvas too). The canvas itself is cleared in the
    browser (CLEAR_CANVAS_JS)."""
    kept = flag_status if flag_status and flag_status.startswith("Saved") else ""
    return None, None, DRAW_FIRST, kept, None


def flag_reading(context: AppContext, verdict: str, answer, reading, request: gr.Request = None):
    """The person's verdict on the last reading -> (status, right-answer box, top 3, frame
    picture, message, reading state).

    ``answer`` is the right digit or number as typed; a number's digits are saved one sample each.
    Only a saved flag resets the page for the next drawing (the status then starts "Saved", and the
    browser clears the canvas); otherwise everything stays as it was.
    """
    return _flag_reading(context, verdict, answer, reading, client_of(request))


def _flag_reading(context: AppContext, verdict: str, answer, reading, client: str):
    def unchanged(status):  # the page as it was, the reading kept for the next try
        return (status, *(gr.update(),) * 4, reading)

    if not reading:
        return unchanged("Read a digit first, then say whether it was right.")
    count = len(reading["digits"])
    if verdict == "correct":
        labels = [digit["digit"] for digit in reading["digits"]]
    elif answer is None or not str(answer).strip():
        what = "digit" if count == 1 else f"number ({count} digits)"
        return unchanged(f"Type the right {what} first, then press **Flag as wrong**.")
    try:
        if verdict != "correct":
            labels = right_digits(answer, count)
        context.gate.admit(client, count)
        stored = store_flags(context, labels, reading, verdict=verdict, client=client)
    except DigitCoreError as exc:
        logger.info("flag not saved: %s", exc)
        return unchanged(f"Not saved: {exc}")
    saved = "Saved, thank you." if len(stored) == 1 else f"Saved its {len(stored)} digits, thank you."
    return f"{saved} It will train the next model once reviewed.", "", None, None, DRAW_FIRST, None


# The page's events: each handler above, run in turn on the page's own state (see Page).


def drawing_on_page(context: AppContext, editor_value, page: Page):
    return on_page(page, lambda _: read_drawing(context, editor_value))


def upload_on_page(context: AppContext, payload, page: Page):
    return on_page(page, lambda _: read_upload(context, payload))


def clear_on_page(context: AppContext, flag_status, page: Page):
    return on_page(page, lambda _: clear_drawing(context, flag_status))


def flag_on_page(context: AppContext, verdict: str, answer, page: Page, request: gr.Request = None):
    return on_page(page, lambda reading: flag_reading(context, verdict, answer, reading, request))


# API endpoints take a file (a path, or the FileData the client libraries send) and do their own
# safe decoding, so bad files get our messages; a user error is one log line, not a traceback.


def classify_digit(context: AppContext, image) -> dict[str, float]:
    """Read one handwritten digit (0-9) from an image: a drawing, photo or scan of a single digit.

    Args:
        image: the image file (PNG, JPEG, GIF, BMP, TIFF or WebP; at most 20 MB and 40 megapixels).

    Returns:
        The three most likely digits with their calibrated probabilities, most likely first; an
        error starting "not a digit" when it looks like a letter, a scribble or a blot instead.
    """
    try:
        with returning_memory():
            reading = read_digits(context.loaded.model, _api_image(image), single=True)
        if reading.refusal():
            raise NotADigitError(reading.refusal())
        return reading.digits[0].top(3)
    except DigitCoreError as exc:
        raise _user_error(exc) from exc


def read_number(context: AppContext, image) -> str:
    """Read every handwritten digit in an image, left to right: a number, a postal code, an amount.

    Args:
        image: the image file (PNG, JPEG, GIF, BMP, TIFF or WebP; at most 20 MB and 40 megapixels).

    Returns:
        The digits read, as a string such as "2047" (punctuation and ruled lines are left out).
    """
    try:
        with returning_memory():
            return read_digits(context.loaded.model, _api_image(image)).text
    except DigitCoreError as exc:
        raise _user_error(exc) from exc


def flag_digit(context: AppContext, image, digit, request: gr.Request = None) -> str:
    """Send an image of one digit with the digit it really is, to train the next model once a
    person has reviewed it. At most 10 at once and 6 a minute from one client.

    Args:
        image: the image file of one digit (PNG, JPEG, GIF, BMP, TIFF or WebP).
        digit: the right digit, an integer 0-9.

    Returns:
        The stored sample's id.
    """
    try:
        digit = validate_label(digit)
        client = client_of(request)
        context.gate.admit(client)
        with returning_memory():
            picture = _api_image(image)
            loaded = context.loaded
            state = reading_state(read_digits(loaded.model, picture, single=True), picture, "api", loaded)
            del picture
        return store_flags(context, [digit], state, verdict="wrong", client=client)[0]
    except DigitCoreError as exc:
        raise _user_error(exc, prefix="Not saved: ") from exc


def bind(handler, context: AppContext, *args):
    """``handler`` with its first arguments given, keeping its name and docstring: Gradio names an
    endpoint's MCP tool after the function and documents the API from the docstring."""
    bound = partial(handler, context, *args)
    bound.__name__ = handler.__name__
    bound.__doc__ = handler.__doc__
    return bound


def _api_image(payload) -> Image.Image:
    path = _payload_path(payload)
    if not path:
        raise InvalidImageError(f"no file was sent: send an image file ({ACCEPTED_FORMATS}).")
    return open_image(path)


def _user_error(exc: DigitCoreError, *, prefix: str = "") -> gr.Error:
    logger.info("refused: %s", exc)
    return gr.Error(f"{prefix}{exc}", print_exception=False)


# --- the page -----------------------------------------------------------------------------------


def build_app(
    loaded: LoadedModel,
    *,
    flag_dir: str | Path = config.FLAG_DIR,
    flag_store: FlagStore | None = None,
    flag_gate: FlagGate | None = None,
    context: AppContext | None = None,
) -> gr.Blocks:
    """The whole interface, for one loaded model: layout and wiring of the module's handlers.

    Parameters
    ----------
    loaded : LoadedModel
        From :func:`digit_core.hub.resolve_model`.
    flag_dir : path
        Where flagged drawings go (``DIGIT_FLAG_DIR``).
    flag_store : FlagStore, optional
        Use this store instead of one made for ``flag_dir`` (tests pass one).
    flag_gate : FlagGate, optional
        Use this rate limit instead of the configured one (``DIGIT_FLAG_BURST``, ``DIGIT_FLAGS_PER_MINUTE``).
    context : AppContext, optional
        Serve this context (its model can be swapped while the app runs); by default one is made
        from the other arguments.
    """
    context = context or AppContext.create(loaded, flag_dir=flag_dir, flag_store=flag_store, flag_gate=flag_gate)

    with gr.Blocks(title="Handwritten digit recogniser", delete_cache=config.UPLOAD_CACHE_EXPIRY) as demo:
        gr.Markdown(
            "# Handwritten digit recogniser\n"
            "Draw a digit or a number, or upload a photo. When it reads one wrong, type the right one: "
            "your drawing becomes training data for the next model."
        )
        if loaded.notices:
            gr.Markdown("> ⚠️ " + " ".join(loaded.notices), elem_id="model-notice")
        if context.store_problem:
            gr.Markdown(f"> ⚠️ Flags cannot be saved right now: {context.store_problem}", elem_id="flag-notice")
        page = gr.State(Page, time_to_live=STATE_SECONDS)
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Tabs():
                    with gr.Tab("Draw", id="draw") as draw_tab:
                        sketch = gr.Sketchpad(
                            label="Draw a digit or a number",
                            canvas_size=CANVAS_SIZE,
                            brush=gr.Brush(default_size=22, colors=["#000000"], color_mode="fixed"),
                            image_mode="RGBA",
                            type="numpy",
                            layers=False,
                            transforms=(),
                            elem_id="sketchpad",
                        )
                        sketch.blob_storage = context.drawings  # bounded: see DrawingBlobs
                        with gr.Row():
                            read_drawing_button = gr.Button("Read it", variant="primary", min_width=80, elem_id="read-drawing")
                            clear = gr.Button("Clear", min_width=80, elem_id="clear")
                    with gr.Tab("Upload", id="upload") as upload_tab:
                        upload = gr.Image(
                            label="Photo or scan of a digit or a number",
                            sources=["upload", "clipboard", "webcam"],
                            type="filepath",
                            image_mode=None,
                            elem_id="upload",
                        )
                        boxes = gr.AnnotatedImage(label="What it read", elem_id="boxes")
                        number = gr.Textbox(label="Number", interactive=False, elem_id="number")
                # The answer and what to say about it, right under the canvas: on a phone too.
                message = gr.Markdown(DRAW_FIRST, elem_id="message")
                with gr.Row(equal_height=True):
                    correct_digit = gr.Textbox(
                        label="The right digit or number", placeholder="e.g. 7 or 42", max_lines=1, min_width=140, elem_id="correct-digit"
                    )
                    flag_wrong = gr.Button("Flag as wrong", variant="stop", min_width=110, elem_id="flag-wrong")
                    flag_right = gr.Button("Correct!", min_width=90, elem_id="flag-correct")
                flag_status = gr.Markdown("", elem_id="flag-status")
            with gr.Column(scale=2):
                label = gr.Label(num_top_classes=3, label="Top 3", elem_id="label")
                frame = gr.Image(
                    label="What the model saw",
                    interactive=False,
                    height=FRAME_DISPLAY_SIZE,
                    format="png",
                    buttons=[],
                    elem_id="frame",
                )
        with gr.Accordion("About the model", open=False):
            about = gr.Markdown(about_text(loaded), elem_id="about")
            if loaded.confusion_matrix is not None:
                gr.Image(str(loaded.confusion_matrix), label="Confusion matrix on the MNIST test set", interactive=False)

        drawing_outputs = [label, frame, message, page]
        # The canvas's events run one at a time, in the order they reach the server: a reading still
        # running when "Clear", "Read it" or a flag arrives finishes first. Two at once could swap: a
        # reading's files take longer to receive than a clear, and on a busy machine a reading of
        # the strokes before "Clear" finished after it and put its answer back. Each takes 20-50 ms
        # of server time, so one lane answers 20-50 drawings a second. Each page's events also take
        # turns on its own state (Page), with its uploads, which have a lane of their own.
        canvas = dict(concurrency_id="canvas", concurrency_limit=1, api_visibility="private")
        on_drawing = bind(drawing_on_page, context)
        # preprocess=False: the drawing arrives as a file and is decoded under the upload limits.
        # Read live as strokes end, the answer replaced in place: no spinner over it each stroke, which
        # on a busy machine stayed over an answer already shown while the last stroke's reading queued.
        sketch.change(
            on_drawing, [sketch, page], drawing_outputs, trigger_mode="always_last", show_progress="hidden", preprocess=False,
            api_name="drawing_changed", **canvas,
        )
        read_drawing_button.click(on_drawing, [sketch, page], drawing_outputs, preprocess=False, api_name="read_drawing", **canvas)
        # "Clear" is the canvas's own trash button (CLEAR_CANVAS_JS); its clear event resets the answer
        # and chooses the brush again, which the trash button drops.
        clear.click(None, js=CLEAR_CANVAS_JS)
        sketch.clear(bind(clear_on_page, context), [flag_status, page], [label, frame, message, flag_status, page], api_name="clear", **canvas)
        sketch.clear(None, js=SELECT_BRUSH_JS)
        demo.load(None, js=SELECT_BRUSH_JS)
        # The model may have been swapped since start (DIGIT_MODEL_FOLLOW): each page says which it gets.
        demo.load(lambda: about_text(context.loaded), None, about, api_visibility="private", queue=False)
        upload_outputs = [boxes, number, label, frame, message, page]
        # an upload has a lane of its own: large photos never hold up drawings
        on_upload = dict(preprocess=False, api_visibility="private", concurrency_id="upload", concurrency_limit=1)
        upload.change(bind(upload_on_page, context), [upload, page], upload_outputs, api_name="read_upload", **on_upload)
        # The answer, and what a flag applies to, follow the tab shown: each tab's own picture is read
        # again when it is chosen (nothing there: "Draw a digit first." or "Upload an image first").
        draw_tab.select(on_drawing, [sketch, page], drawing_outputs, show_progress="hidden", preprocess=False, api_name="draw_tab", **canvas)
        upload_tab.select(bind(upload_on_page, context), [upload, page], upload_outputs, show_progress="hidden", api_name="upload_tab", **on_upload)
        flag_outputs = [flag_status, correct_digit, label, frame, message, page]
        for button, verdict in ((flag_wrong, "wrong"), (flag_right, "correct")):
            button.click(bind(flag_on_page, context, verdict), [correct_digit, page], flag_outputs, api_name=f"flag_{verdict}", **canvas).then(
                None, flag_status, js=CLEAR_CANVAS_JS
            )

        with gr.Row(visible=False):
            api_file = gr.File(type="filepath", label="image")
            api_digit = gr.Number(label="digit")
            api_label = gr.Label(num_top_classes=3)
            api_text = gr.Textbox()
        # preprocess=False: the file is read once, by open_image, under its limits, and the label
        # arrives as sent (3.5 or true is refused, not rounded to 4 or 1).
        # Each endpoint is also an MCP tool, named after its handler and described by its docstring.
        api = dict(preprocess=False, concurrency_id="api", concurrency_limit=CONCURRENCY)
        gr.Button(visible=False).click(bind(classify_digit, context), api_file, api_label, api_name="predict", **api)
        gr.Button(visible=False).click(bind(read_number, context), api_file, api_text, api_name="read", **api)
        gr.Button(visible=False).click(bind(flag_digit, context), [api_file, api_digit], api_text, api_name="flag", **api)
    return demo


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


def about_text(loaded: LoadedModel) -> str:
    """The About panel, in plain words: which model, how well it reads, how sure it has to be."""
    facts = loaded.facts
    where = {
        "starter": "the starter model that comes with the app",
        "hub": f"`{loaded.location}` from the Hugging Face Hub",
        "local": "a model file chosen by whoever runs this app",
    }.get(loaded.source, loaded.source)
    lines = [f"- **Model:** {where}"]
    if loaded.revision:
        lines.append(f"- **Revision:** `{loaded.revision}`")
    if loaded.promoted_at:
        lines.append(f"- **Promoted:** {loaded.promoted_at} (UTC), after reading every test set at least as well as the model before it")
    if facts:
        lines.append(f"- **How it was trained:** {facts.get('description', '')}")
        if "accuracy" in facts:
            lines.append(
                f"- **Accuracy:** {100 * float(facts['accuracy']):.2f}% of the {facts.get('n_test', '?')} MNIST test digits "
                "(handwriting it never saw while training) read right"
            )
        if "ece" in facts:
            lines.append(
                f"- **Honest confidence:** when it says 90% sure it is right about 90% of the time "
                f"(calibration error {float(facts['ece']):.4f} on those digits)"
            )
    else:
        lines.append("- No model card was found, so its accuracy is unknown.")
    lines.append(f"- Below {NOT_SURE_BELOW:.0%} confidence it says it is not sure instead of guessing.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the handwritten digit recogniser.")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    follow = config.MODEL_FOLLOW and config.MODEL_REPO and not config.MODEL_PATH
    # Following: start on the promoted tag (from the Hub cache when the Hub cannot be reached).
    loaded = resolve_model(revision=PROMOTED_TAG) if follow else resolve_model()
    logger.info("serving %s model from %s", loaded.source, loaded.location)
    context = AppContext.create(loaded)
    demo = build_app(loaded, context=context)
    if follow:
        follower = ModelFollower(config.MODEL_REPO, current=loaded.revision, swap=context.swap)
        follower.check()  # at start, then on an interval
        follower.start(config.MODEL_CHECK_SECONDS)
    every, age = config.UPLOAD_CACHE_EXPIRY
    threading.Thread(
        target=sweep_upload_cache, args=(demo,), kwargs=dict(every=every, age=age, stop=threading.Event()), daemon=True
    ).start()
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    demo.launch(
        css=PAGE_CSS,
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=args.share,
        max_file_size=config.MAX_UPLOAD_BYTES,
        mcp_server=True,  # the API endpoints as MCP tools, at /gradio_api/mcp/
    )


if __name__ == "__main__":
    main()
