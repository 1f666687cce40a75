"""Handwritten digit recogniser: a Gradio app (Hugging Face Space).

Draw a digit or upload a scan; a calibrated SVC reads it; say when it is wrong and the drawing becomes
training data. This file is the page's layout and wiring only: the handlers are in ``web.handlers``,
what the page shows in ``web.answers``, who is who in ``web.people``, Gradio workarounds in
``web.gradio_workarounds``; every image step and the model come from ``digit_core``.

    python app.py            # http://127.0.0.1:7860
    python app.py --share    # and a public link
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from digit_core import config
from digit_core.flags import FlagGate, FlagStore
from digit_core.hub import PROMOTED_TAG, LoadedModel, ModelFollower, resolve_model
from web.answers import DRAW_FIRST, FRAME_DISPLAY_SIZE, about_text
from web.assets import (
    BRUSH_RADIUS,
    CANVAS_SIZE,
    CLEAR_CANVAS_JS,
    ERASER_RADIUS,
    FLAG_SEQ_JS,
    INK_PAYLOAD_JS,
    PAGE_CSS,
    PAGE_HEAD,
    READ_NOW_JS,
    RESUME_SKETCHPAD_JS,
    SELECT_BRUSH_JS,
    UPLOAD_SEQ_JS,
    WARM_UP_JS,
)
from web.context import AppContext
from web.gradio_workarounds import Page, app_limits, limit_pending_calls, naming_the_url_rule, sweep_upload_cache
from web.handlers import (
    bind,
    classify_digit,
    flag_digit,
    flag_on_page,
    ink_on_page,
    read_number,
    upload_on_page,
)
from web.people import PendingCalls, trusted_proxies

logger = logging.getLogger("digit_app")

#: A session's state (its last reading) is dropped this long after its last use.
STATE_SECONDS = 15 * 60
#: The Upload tab's photo and its boxes are shown this tall, whatever their shape: a number's wide
#: strip is not squeezed flat, and a single digit's tall photo leaves the answer in sight on a phone.
UPLOAD_HEIGHT = 180
#: The boxes get more: their legend takes 50 px of it.
BOXES_HEIGHT = 240
#: Two workers for a 2-core machine: each prediction is CPU-bound and takes a few milliseconds.
CONCURRENCY = 2
#: Calls waiting in the queue, everyone's together (each person's own: ``config.PENDING_PER_PERSON``).
QUEUE_SIZE = 64


def build_app(
    loaded: LoadedModel,
    *,
    flag_dir: str | Path = config.FLAG_DIR,
    flag_store: FlagStore | None = None,
    flag_gate: FlagGate | None = None,
    context: AppContext | None = None,
) -> gr.Blocks:
    """The whole interface, for one loaded model: layout and wiring of ``web.handlers``.

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
        _notices(loaded, context)
        # A Page object, not the class: Gradio would run a class on every page load and publish that
        # as a fourth API endpoint and MCP tool. Each page gets its own copy (Page.__deepcopy__).
        page = gr.State(Page(), time_to_live=STATE_SECONDS)
        parts = _layout(loaded)
        parts.page = page
        _wire_drawing(demo, context, parts)
        _wire_upload_and_flags(context, parts)
        _api_endpoints(context)
    return demo


def _notices(loaded: LoadedModel, context: AppContext) -> None:
    gr.Markdown(
        "# Handwritten digit recogniser\n"
        "Draw a digit or a number, or upload a photo. When it reads one wrong, type the right one: "
        "your drawing becomes training data for the next model."
    )
    if loaded.notices:
        gr.Markdown("> ⚠️ " + " ".join(loaded.notices), elem_id="model-notice")
    if context.store_problem:
        gr.Markdown(f"> ⚠️ Flags cannot be saved right now: {context.store_problem}", elem_id="flag-notice")


def _layout(loaded: LoadedModel) -> SimpleNamespace:
    """The page's components: the two tabs on the left with the answer and the flag row under them,
    the top 3 and the model's view on the right, the About panel below."""
    parts = SimpleNamespace()
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Tabs():
                with gr.Tab("Draw", id="draw") as parts.draw_tab:
                    _draw_tab(parts)
                with gr.Tab("Upload", id="upload") as parts.upload_tab:
                    _upload_tab(parts)
            # The answer and what to say about it, right under the canvas: on a phone too.
            parts.message = gr.Markdown(DRAW_FIRST, elem_id="message")
            _flag_row(parts)
        with gr.Column(scale=2):
            parts.label = gr.Label(num_top_classes=3, label="Top 3", elem_id="label")
            parts.frame = gr.Image(
                label="What the model saw", interactive=False, height=FRAME_DISPLAY_SIZE, format="png", buttons=[], elem_id="frame"
            )
    with gr.Accordion("About the model", open=False):
        parts.about = gr.Markdown(about_text(loaded), elem_id="about")
        if loaded.confusion_matrix is not None:
            gr.Image(str(loaded.confusion_matrix), label="Confusion matrix on the MNIST test set", interactive=False)
    return parts


def _draw_tab(parts: SimpleNamespace) -> None:
    parts.sketch = gr.Sketchpad(
        label="Draw a digit or a number",
        canvas_size=CANVAS_SIZE,
        brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
        eraser=gr.Eraser(default_size=ERASER_RADIUS),
        image_mode="RGBA",
        type="numpy",
        layers=False,
        transforms=(),
        elem_id="sketchpad",
    )
    with gr.Row():
        parts.read_drawing = gr.Button("Read it", variant="primary", min_width=80, elem_id="read-drawing")
        parts.clear = gr.Button("Clear", min_width=80, elem_id="clear")
    # What the page's hook (PAGE_HEAD) sends the drawing through: rendered, never shown.
    parts.ink = gr.Textbox(visible="hidden", elem_id="ink")
    parts.ink_read = gr.Button(visible="hidden", elem_id="ink-read")


def _upload_tab(parts: SimpleNamespace) -> None:
    parts.upload = gr.Image(
        label="Photo or scan of a digit or a number",
        sources=["upload", "clipboard", "webcam"],
        type="filepath",
        image_mode=None,
        height=UPLOAD_HEIGHT,
        elem_id="upload",
    )
    parts.boxes = gr.AnnotatedImage(label="What it read", height=BOXES_HEIGHT, elem_id="boxes")
    parts.number = gr.Textbox(label="Number", interactive=False, elem_id="number")


def _flag_row(parts: SimpleNamespace) -> None:
    with gr.Row(equal_height=True):
        parts.correct_digit = gr.Textbox(
            label="The right digit or number", placeholder="e.g. 7 or 42", max_lines=1, min_width=140, elem_id="correct-digit"
        )
        parts.flag_wrong = gr.Button("Flag as wrong", variant="stop", min_width=110, elem_id="flag-wrong")
        parts.flag_right = gr.Button("Correct!", min_width=90, elem_id="flag-correct")
    parts.flag_status = gr.Markdown("", elem_id="flag-status")


#: The canvas's queued events (the flags) run one at a time, in the order they reach the server, each
#: on the page's own state (Page); the drawing's reading skips the queue but holds the same Page.lock,
#: so a drawing's reading, a flag and an upload's reading of one page never overlap, and a drawing
#: older than the answer shown is dropped (web.ink's seq). Each takes a few ms of server time.
_CANVAS_LANE = dict(concurrency_id="canvas", concurrency_limit=1, api_visibility="private")
#: An upload has a lane of its own: large photos never hold up drawings. ``preprocess=False``: the file
#: is decoded once, by ``open_image``, under its limits.
_UPLOAD_LANE = dict(preprocess=False, api_visibility="private", concurrency_id="upload", concurrency_limit=1)


def _wire_drawing(demo: gr.Blocks, context: AppContext, parts: SimpleNamespace) -> None:
    parts.sketch.blob_storage = context.drawings  # bounded: see DrawingBlobs
    # The sketchpad has no change event: the page's hook (PAGE_HEAD) sends the ink's box after each
    # stroke, undo, redo or clear through #ink-read. always_last: while a reading is on its way, only
    # the latest drawing is sent after it (the payload is taken when it is sent). queue=False: one
    # POST answered as it arrives (the queue's join and event stream cost ~100 ms of a ~20 ms read);
    # readings of one page never overlap (Page.lock), an older drawing is dropped (Page.seq), and the
    # call counts among the person's pending ones (limit_pending_calls).
    parts.ink_read.click(
        bind(ink_on_page, context), [parts.ink, parts.flag_status, parts.page],
        [parts.label, parts.frame, parts.message, parts.flag_status, parts.ink, parts.page],
        js=INK_PAYLOAD_JS, trigger_mode="always_last", show_progress="hidden", api_name="ink", api_visibility="private", queue=False,
    ).then(None, js=RESUME_SKETCHPAD_JS)
    parts.read_drawing.click(None, js=READ_NOW_JS)
    # "Clear" is the canvas's own trash button (CLEAR_CANVAS_JS): the hook sees it and sends the
    # empty canvas; the trash button drops the brush, which is chosen again.
    parts.clear.click(None, js=CLEAR_CANVAS_JS)
    parts.sketch.clear(None, js=SELECT_BRUSH_JS)
    demo.load(None, js=SELECT_BRUSH_JS)
    demo.load(None, js=WARM_UP_JS)
    # The model may have been swapped since start (DIGIT_MODEL_FOLLOW): each page says which it gets.
    demo.load(lambda: about_text(context.loaded), None, parts.about, api_visibility="private", queue=False)
    # The answer, and what a flag applies to, follow the tab shown: the tab's own picture is read again
    # when it is chosen (nothing there: "Draw a digit first."); the other tab's flag text goes.
    parts.draw_tab.select(None, js=READ_NOW_JS)
    for tab in (parts.draw_tab, parts.upload_tab):
        tab.select(lambda: ("", ""), None, [parts.flag_status, parts.correct_digit], api_visibility="private", queue=False)


def _wire_upload_and_flags(context: AppContext, parts: SimpleNamespace) -> None:
    outputs = [parts.boxes, parts.number, parts.label, parts.frame, parts.message, parts.page]
    on_upload = bind(upload_on_page, context)
    inputs = [parts.upload, parts.ink, parts.page]
    parts.upload.change(on_upload, inputs, outputs, js=UPLOAD_SEQ_JS, api_name="read_upload", **_UPLOAD_LANE)
    parts.upload_tab.select(on_upload, inputs, outputs, js=UPLOAD_SEQ_JS, show_progress="hidden", api_name="upload_tab", **_UPLOAD_LANE)
    flag_outputs = [parts.flag_status, parts.correct_digit, parts.label, parts.frame, parts.message, parts.page]
    for button, verdict in ((parts.flag_wrong, "wrong"), (parts.flag_right, "correct")):
        button.click(
            bind(flag_on_page, context, verdict), [parts.correct_digit, parts.page, parts.ink], flag_outputs,
            js=FLAG_SEQ_JS, api_name=f"flag_{verdict}", **_CANVAS_LANE,
        ).then(None, parts.flag_status, js=CLEAR_CANVAS_JS)


def _api_endpoints(context: AppContext) -> None:
    """``predict``, ``read`` and ``flag``: each also an MCP tool, named after its handler and described
    by its docstring. ``preprocess=False``: the file is read once, by ``open_image``, under its limits,
    and the label arrives as sent (3.5 or true is refused, not rounded to 4 or 1)."""
    with gr.Row(visible=False):
        api_file = naming_the_url_rule(gr.File(type="filepath", label="image"))  # a URL it may not fetch: the rule
        api_digit = gr.Number(label="digit")
        api_label = gr.Label(num_top_classes=3)
        api_text = gr.Textbox()
    api = dict(preprocess=False, concurrency_id="api", concurrency_limit=CONCURRENCY)
    gr.Button(visible=False).click(bind(classify_digit, context), api_file, api_label, api_name="predict", **api)
    gr.Button(visible=False).click(bind(read_number, context), api_file, api_text, api_name="read", **api)
    gr.Button(visible=False).click(bind(flag_digit, context), [api_file, api_digit], api_text, api_name="flag", **api)


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
    serve(demo, share=args.share)


def serve(
    demo: gr.Blocks,
    *,
    share: bool = False,
    expiry: tuple[float, float] = config.UPLOAD_CACHE_EXPIRY,
    pending_per_person: int = config.PENDING_PER_PERSON,
    trusted: str = config.TRUSTED_PROXIES,
    stop: threading.Event | None = None,
    **launch,
):
    """Launch ``demo`` as on a public link: who is who from the ``trusted`` proxies (uvicorn reads them
    from ``FORWARDED_ALLOW_IPS`` when it starts), every request's body bounded, each person's pending
    calls bounded, uploads swept every ``expiry[0]`` s once ``expiry[1]`` s old (until ``stop`` is
    set). ``launch`` overrides ``demo.launch``'s arguments (tests: ``prevent_thread_lock=True``)."""
    os.environ["FORWARDED_ALLOW_IPS"] = trusted_proxies(trusted)
    every, age = expiry
    threading.Thread(
        target=sweep_upload_cache, args=(demo,), kwargs=dict(every=every, age=age, stop=stop or threading.Event()), daemon=True
    ).start()
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    limit_pending_calls(demo, PendingCalls(pending_per_person))
    options = dict(
        css=PAGE_CSS,
        head=PAGE_HEAD,  # the drawing hook: see web.assets
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=share,
        max_file_size=config.MAX_UPLOAD_BYTES,
        app_kwargs=app_limits(config.MAX_REQUEST_BYTES, config.MAX_FILES_PER_REQUEST),
        mcp_server=True,  # the API endpoints as MCP tools, at /gradio_api/mcp/
    )
    return demo.launch(**{**options, **launch})


if __name__ == "__main__":
    main()
