"""The app's handlers: inputs in, what the page shows out. Plain functions over an
:class:`~web.context.AppContext`, testable without a server; ``app.py`` wires them to the page.

API endpoints take a file (a path, or the FileData the client libraries send) and do their own safe
decoding, so bad files get our messages; a user error is one log line, not a traceback.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import typing
from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from digit_core import config
from digit_core.errors import DigitCoreError, InvalidImageError, InvalidLabelError, NoDigitFoundError, NotADigitError
from digit_core.flags import validate_label
from digit_core.images import ACCEPTED_FORMATS, open_image
from digit_core.reading import read_digits

from .answers import (
    DRAW_FIRST,
    UPLOAD_FIRST,
    UPLOAD_NEXT,
    boxes_picture,
    frame_picture,
    number_message,
    reading_state,
    refusal_message,
    upload_picture,
    annotations,
    verdict_message,
)
from .context import AppContext
from .gradio_workarounds import DrawingBlobs, Page, on_page, returning_memory
from .ink import parse_ink
from .people import client_of

logger = logging.getLogger("digit_app")


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


def read_ink(context: AppContext, png: bytes | None):
    """The drawing as the page sends it (the ink's box as a PNG, see ``web.ink``) -> the same as
    :func:`read_drawing`: decoded under the drawing's limits, then read by the one reading path."""
    if png is None:
        return None, None, DRAW_FIRST, None
    try:
        drawing = open_image(png, max_pixels=config.MAX_DRAWING_PIXELS)
    except InvalidImageError as exc:
        return None, None, f"Could not read the drawing: {exc}", None
    return read_drawing(context, drawing)


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


def clear_drawing(context: AppContext, flag_status: str | None = None):
    """-> (top 3, frame picture, message, flag status, reading state), all reset but a flag's
    "Saved" confirmation (a saved flag clears the canvas too). The canvas itself is cleared in the
    browser (CLEAR_CANVAS_JS)."""
    kept = flag_status if flag_status and flag_status.startswith("Saved") else ""
    return None, None, DRAW_FIRST, kept, None


def flag_reading(context: AppContext, verdict: str, answer, reading, request: gr.Request = None, *, source: str = "draw"):
    """The person's verdict on the last reading -> (status, right-answer box, top 3, frame
    picture, message, reading state).

    ``answer`` is the right digit or number as typed; a number's digits are saved one sample each.
    "Correct!" with another number typed is refused (which did they mean?); with the reading itself
    typed it is saved. Only a saved flag resets the page for the next drawing or upload (the status
    then starts "Saved", and the browser clears the canvas); otherwise everything stays as it was.
    ``source`` is the tab shown ("draw" or "upload"), for what to say when there is nothing to flag.
    """
    return _flag_reading(context, verdict, answer, reading, client_of(request), source)


def _flag_reading(context: AppContext, verdict: str, answer, reading, client: str, source: str = "draw"):
    def unchanged(status):  # the page as it was, the reading kept for the next try
        return (status, *(gr.update(),) * 4, reading)

    if not reading:
        if source == "upload":
            return unchanged("Upload an image first, then say whether it was read right (each reading can be flagged once).")
        return unchanged("Draw a digit first, then say whether it was read right.")
    count = len(reading["digits"])
    typed = "" if answer is None else "".join(str(answer).split())
    read = "".join(str(digit["digit"]) for digit in reading["digits"])
    if verdict == "correct" and typed and typed != read:
        return unchanged(
            f"You typed {typed} but it read {read}: press **Flag as wrong** to save {typed}, "
            f"or empty the box and press **Correct!** to confirm {read}."
        )
    if verdict == "wrong" and not typed:
        what = "digit" if count == 1 else f"number ({count} digits)"
        return unchanged(f"Type the right {what} first, then press **Flag as wrong**.")
    try:
        labels = [digit["digit"] for digit in reading["digits"]] if verdict == "correct" else right_digits(answer, count)
        context.gate.admit(client, count)
        stored = store_flags(context, labels, reading, verdict=verdict, client=client)
    except DigitCoreError as exc:
        logger.info("flag not saved: %s", exc)
        return unchanged(f"Not saved: {exc}")
    saved = "Saved, thank you." if len(stored) == 1 else f"Saved its {len(stored)} digits, thank you."
    after = UPLOAD_NEXT if reading.get("source") == "upload" else DRAW_FIRST
    return f"{saved} It will train the next model once reviewed.", "", None, None, after, None


# The page's events: each handler above, run in turn on the page's own state (see Page).


def ink_on_page(context: AppContext, ink: str | None, flag_status, page: Page):
    """Read the drawing the page shows: its ink's box as a small PNG with the page's sequence
    number (``web.ink``), sent after each stroke -> (top 3, frame picture, message, flag status,
    the sequence number of the answer shown, page).

    A drawing older than the answer shown (a lower ``seq``) changes nothing: an answer in flight never
    replaces a newer one. An empty canvas resets the answer, keeping only a saved flag's thanks."""
    try:
        sent = parse_ink(ink)
    except InvalidImageError as exc:
        return None, None, f"Could not read the drawing: {exc}", gr.update(), gr.update(), page
    with page.lock:
        if sent.seq < page.seq:
            return (*(gr.update(),) * 5, page)
        page.seq, page.source = sent.seq, "draw"
        top, picture, message, page.reading = read_ink(context, sent.png)
    status = gr.update() if sent.png is not None else clear_drawing(context, flag_status)[3]
    return top, picture, message, status, json.dumps({"seq": sent.seq}), page


def upload_on_page(context: AppContext, payload, ink: str | None, page: Page):
    """The upload's reading, shown from now on over any drawing sent before it (``ink``'s seq)."""
    seq = _seq_of(ink)
    with page.lock:
        page.seq, page.source = max(page.seq, seq), "upload"
    return on_page(page, lambda _: read_upload(context, payload))


def flag_on_page(context: AppContext, verdict: str, answer, page: Page, ink: str | None = None, request: gr.Request = None):
    """A flag of the answer shown. ``ink`` names the page's latest drawing or upload (its seq): when
    its answer is not the one shown yet, nothing is saved and the page says to wait for it. A saved
    flag closes that drawing: nothing sent before the flag is shown after it."""
    seq = None if ink is None else _seq_of(ink)

    def step(reading):
        if seq is not None and reading and seq != page.seq:
            return ("Your latest drawing is still being read: check its answer, then press again.", *(gr.update(),) * 4, reading)
        shown = flag_reading(context, verdict, answer, reading, request, source=page.source)
        if seq is not None and shown[0].startswith("Saved"):
            page.seq = seq + 1
        return shown

    return on_page(page, step)


def _seq_of(ink: str | None) -> int:
    try:
        return parse_ink(ink).seq
    except InvalidImageError:
        return 0


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
    """``handler`` with its first arguments given, as a plain function that Gradio can inspect: its
    name and docstring (an endpoint's MCP tool is named after the function and documented from its
    docstring), and the signature and type hints of the arguments left, so that a ``gr.Request``
    parameter still gets the request. (Gradio reads the type hints of a ``functools.partial`` from
    its ``__call__``, finds none and never passes the request: everyone was one person; see
    gradio-app/gradio#2195 on partials.)"""
    bound = partial(handler, context, *args)

    def call(*rest, **options):
        return bound(*rest, **options)

    signature = inspect.signature(bound)
    hints = typing.get_type_hints(handler)
    call.__name__ = call.__qualname__ = handler.__name__
    call.__doc__ = handler.__doc__
    call.__signature__ = signature
    call.__annotations__ = {name: hints[name] for name in signature.parameters if name in hints}
    return call


def _api_image(payload) -> Image.Image:
    path = _payload_path(payload)
    if not path:
        raise InvalidImageError(f"no file was sent: send an image file ({ACCEPTED_FORMATS}).")
    return open_image(path)


def _user_error(exc: DigitCoreError, *, prefix: str = "") -> gr.Error:
    logger.info("refused: %s", exc)
    return gr.Error(f"{prefix}{exc}", print_exception=False)


