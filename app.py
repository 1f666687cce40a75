"""Handwritten digit recogniser: a Gradio app (Hugging Face Space).

Draw a digit or upload a scan; a calibrated SVC reads it; say when it is wrong and the drawing becomes
training data. Every image step and the model come from ``digit_core``; this file only lays out the
page and turns errors into messages for people.

    python app.py            # http://127.0.0.1:7860
    python app.py --share    # and a public link
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.flagging import FlaggingCallback
from PIL import Image

from digit_core import config
from digit_core.errors import DigitCoreError, InvalidImageError, NoDigitFoundError
from digit_core.flagging import FlagStore
from digit_core.hub import LoadedModel, resolve_model
from digit_core.images import ACCEPTED_FORMATS, open_image
from digit_core.reading import ReadDigit, Reading, read_digits

logger = logging.getLogger("digit_app")

#: Below this calibrated probability the app says "not sure" instead of naming a digit.
NOT_SURE_BELOW = 0.6
#: The 28x28 frame is shown this many pixels wide, enlarged without smoothing.
FRAME_DISPLAY_SIZE = 224
#: Uploads are shown at most this wide or tall (boxes are scaled to match).
DISPLAY_SIDE = 1024
#: Two workers for a 2-core machine: each prediction is CPU-bound and takes a few milliseconds.
CONCURRENCY = 2
DRAW_FIRST = "Draw a digit first."
#: Gradio's sketchpad starts with no tool chosen; pick the brush so people can draw at once.
SELECT_BRUSH_JS = """
() => {
  let tries = 0;
  const pick = () => {
    const brush = document.querySelector('#sketchpad button[aria-label="Brush"]');
    const idle = document.querySelector('#sketchpad')?.innerText.includes('select the draw tool');
    if (brush && (idle || tries === 0)) brush.click();
    if (tries++ < 40 && (!brush || idle)) setTimeout(pick, 250);
  };
  setTimeout(pick, 300);
}
"""
UPLOAD_FIRST = f"Upload an image first ({ACCEPTED_FORMATS})."


class DigitFlaggingCallback(FlaggingCallback):
    """Gradio's flagging interface over :class:`digit_core.flagging.FlagStore`.

    ``flag_data`` is ``[image, correct_digit, last_reading]``, where ``last_reading`` is the state dict
    the app keeps after each prediction; ``flag_option`` is ``"wrong"`` or ``"correct"``.
    """

    def __init__(self, loaded: LoadedModel, *, store: FlagStore | None = None):
        self.loaded = loaded
        self.store = store

    def setup(self, components, flagging_dir: str):
        if self.store is None:
            self.store = FlagStore.with_hub_sync(flagging_dir, repo_id=config.FLAG_REPO, token=config.HF_TOKEN)

    def flag(self, flag_data: list[Any], flag_option: str | None = None, username: str | None = None) -> int:
        self.flag_sample(flag_data, flag_option)
        return self.store.count()

    def flag_sample(self, flag_data: list[Any], flag_option: str | None = None) -> str:
        """Store one sample and return its id. Raises the store's errors for a bad label or image."""
        image, label, reading = flag_data
        reading = reading or {}
        return self.store.add(
            image,
            label=label,
            frame=reading.get("frame"),
            predicted=reading.get("digit"),
            probabilities=reading.get("probabilities"),
            model_id=self.loaded.model_id,
            model_revision=self.loaded.revision,
            source=reading.get("source", "api"),
            verdict=flag_option or "wrong",
        )


# --- turning readings into what the page shows -------------------------------------------------


def frame_picture(frame: np.ndarray) -> np.ndarray:
    """The 28x28 frame enlarged without smoothing, white digit on black, uint8."""
    scale = FRAME_DISPLAY_SIZE // frame.shape[0]
    return np.kron(np.uint8(np.clip(frame, 0, 1) * 255), np.ones((scale, scale), dtype=np.uint8))


def verdict_message(prediction: ReadDigit) -> str:
    top = prediction.top(2)
    (first, p1), (second, p2) = list(top.items())
    if prediction.confidence < NOT_SURE_BELOW:
        return f"**Not sure.** Maybe a {first} ({p1:.0%}) or a {second} ({p2:.0%}). Try writing it larger and clearer."
    return f"It's a **{first}** ({p1:.0%} sure)."


def reading_state(prediction: ReadDigit, image, source: str) -> dict:
    return {
        "image": image,
        "frame": prediction.frame,
        "digit": prediction.digit,
        "probabilities": prediction.probabilities.tolist(),
        "source": source,
    }


def upload_picture(image: Image.Image) -> tuple[Image.Image, float]:
    """The upload as shown: RGB with transparency on white, at most DISPLAY_SIDE; and its scale."""
    rgba = image.convert("RGBA")
    shown = Image.new("RGBA", rgba.size, "white")
    shown.alpha_composite(rgba)
    shown = shown.convert("RGB")
    scale = min(1.0, DISPLAY_SIDE / max(shown.size))
    if scale < 1.0:
        shown = shown.resize((max(1, round(shown.width * scale)), max(1, round(shown.height * scale))))
    return shown, scale


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


def _drawing(editor_value) -> np.ndarray | None:
    if editor_value is None:
        return None
    composite = editor_value.get("composite") if isinstance(editor_value, dict) else editor_value
    if composite is None:
        return None
    return np.asarray(composite)


# --- the page -----------------------------------------------------------------------------------


def build_app(loaded: LoadedModel, *, flag_dir: str | Path = config.FLAG_DIR, flag_store: FlagStore | None = None) -> gr.Blocks:
    """The whole interface, for one loaded model.

    Parameters
    ----------
    loaded : LoadedModel
        From :func:`digit_core.hub.resolve_model`.
    flag_dir : path
        Where flagged drawings go (``DIGIT_FLAG_DIR``).
    flag_store : FlagStore, optional
        Use this store instead of one made for ``flag_dir`` (tests pass one).
    """
    model = loaded.model
    flagger = DigitFlaggingCallback(loaded, store=flag_store)

    def predict_drawing(editor_value):
        drawing = _drawing(editor_value)
        if drawing is None:
            return None, None, DRAW_FIRST, None
        try:
            prediction = read_digits(model, drawing, single=True).digits[0]
        except NoDigitFoundError:
            return None, None, DRAW_FIRST, None
        except DigitCoreError as exc:
            return None, None, f"Could not read the drawing: {exc}", None
        return (
            prediction.top(3),
            frame_picture(prediction.frame),
            verdict_message(prediction),
            reading_state(prediction, drawing, "draw"),
        )

    def read_upload(payload):
        path = _payload_path(payload)
        if path is None:
            return None, "", None, None, UPLOAD_FIRST, None
        try:
            image = open_image(path)
            reading = read_digits(model, image)
        except NoDigitFoundError:
            return None, "", None, None, "No digit found in this image. Upload a photo or scan with dark digits on light paper (or the reverse).", None
        except InvalidImageError as exc:
            return None, "", None, None, f"This file can't be read: {exc}", None
        except DigitCoreError as exc:
            return None, "", None, None, f"Could not read the image: {exc}", None
        shown, scale = upload_picture(image)
        first = reading.digits[0]
        if len(reading.digits) == 1:
            message = verdict_message(first)
            state = reading_state(first, image, "upload")
        else:
            unsure = [str(i + 1) for i, d in enumerate(reading.digits) if d.confidence < NOT_SURE_BELOW]
            message = f"Read **{reading.text}** ({reading.confidence:.0%} sure of the whole number)."
            if unsure:
                message += f" Not sure about digit {', '.join(unsure)}."
            message += " To flag a wrong digit, draw or upload it on its own."
            state = None
        return (
            (shown, annotations(reading, scale)),
            reading.text,
            first.top(3) if len(reading.digits) == 1 else {f"{reading.text}": reading.confidence},
            frame_picture(first.frame) if len(reading.digits) == 1 else None,
            message,
            state,
        )

    def flag(label, reading, verdict):
        """Outputs: sketch, status, right-digit choice, label, frame, message, reading state.

        Only a saved sample resets the page for the next digit; otherwise everything stays as it was.
        """
        keep = (gr.update(),) * 5

        def unchanged(status):
            return (gr.update(), status, *keep)

        if not reading:
            return unchanged("Read a digit first, then say whether it was right.")
        if verdict == "correct":
            label = reading["digit"]
        elif label in (None, ""):
            return unchanged("Pick the right digit (0-9) first, then press **Flag as wrong**.")
        try:
            count = flagger.flag([reading["image"], label, reading], verdict)
        except DigitCoreError as exc:
            return unchanged(f"Not saved: {exc}")
        return None, f"Saved, thank you. {count} drawings collected.", None, None, None, DRAW_FIRST, None

    # API endpoints take a file and do their own safe decoding, so bad files get our messages.
    def api_predict(file_path: str) -> dict[str, float]:
        try:
            return read_digits(model, open_image(file_path), single=True).digits[0].top(3)
        except DigitCoreError as exc:
            raise gr.Error(str(exc)) from exc

    def api_read(file_path: str) -> str:
        try:
            return read_digits(model, open_image(file_path)).text
        except DigitCoreError as exc:
            raise gr.Error(str(exc)) from exc

    def api_flag(file_path: str, digit) -> str:
        try:
            image = open_image(file_path)
            prediction = read_digits(model, image, single=True).digits[0]
            return flagger.flag_sample([image, digit, reading_state(prediction, image, "api")], "wrong")
        except NoDigitFoundError as exc:
            raise gr.Error(f"Not saved: {exc}") from exc
        except DigitCoreError as exc:
            raise gr.Error(f"Not saved: {exc}") from exc

    with gr.Blocks(title="Handwritten digit recogniser") as demo:
        gr.Markdown(
            "# Handwritten digit recogniser\n"
            "Draw a digit, or upload a photo or scan of a number. When it reads one wrong, tell it the "
            "right digit: your drawing becomes training data for the next model."
        )
        if loaded.notices:
            gr.Markdown("> ⚠️ " + " ".join(loaded.notices), elem_id="model-notice")
        reading = gr.State(None)
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Tabs():
                    with gr.Tab("Draw", id="draw"):
                        sketch = gr.Sketchpad(
                            label="Draw one digit",
                            canvas_size=(400, 400),
                            brush=gr.Brush(default_size=22, colors=["#000000"], color_mode="fixed"),
                            image_mode="RGBA",
                            type="numpy",
                            layers=False,
                            height=560,
                            elem_id="sketchpad",
                        )
                        with gr.Row():
                            read_drawing = gr.Button("Read it", variant="primary", elem_id="read-drawing")
                            clear = gr.Button("Clear", elem_id="clear")
                    with gr.Tab("Upload", id="upload"):
                        upload = gr.Image(
                            label="Photo or scan of a digit or a number",
                            sources=["upload", "clipboard", "webcam"],
                            type="filepath",
                            image_mode=None,
                            elem_id="upload",
                        )
                        boxes = gr.AnnotatedImage(label="What it read", elem_id="boxes")
                        number = gr.Textbox(label="Number", interactive=False, elem_id="number")
            with gr.Column(scale=2):
                message = gr.Markdown(DRAW_FIRST, elem_id="message")
                label = gr.Label(num_top_classes=3, label="Top 3", elem_id="label")
                frame = gr.Image(
                    label="What the model saw (28x28)",
                    interactive=False,
                    height=FRAME_DISPLAY_SIZE,
                    width=FRAME_DISPLAY_SIZE,
                    format="png",
                    elem_id="frame",
                )
                with gr.Group():
                    correct_digit = gr.Radio([str(d) for d in range(10)], label="The right digit", elem_id="correct-digit")
                    with gr.Row():
                        flag_wrong = gr.Button("Flag as wrong", variant="stop", elem_id="flag-wrong")
                        flag_right = gr.Button("Correct!", elem_id="flag-correct")
                flag_status = gr.Markdown("", elem_id="flag-status")
        with gr.Accordion("About the model", open=False):
            gr.Markdown(about_text(loaded))
            if loaded.confusion_matrix is not None:
                gr.Image(str(loaded.confusion_matrix), label="Confusion matrix on the MNIST test set", interactive=False)

        drawing_outputs = [label, frame, message, reading]
        # Events that read or reset the canvas run one at a time, in the order they arrive: run
        # side by side, a change sent before "Clear" or "Read it" could finish after it and put a
        # stale answer back. One worker reads about 100 drawings a second.
        in_order = dict(concurrency_id="canvas", concurrency_limit=1, api_visibility="undocumented")
        sketch.change(predict_drawing, sketch, drawing_outputs, trigger_mode="always_last", **in_order)
        read_drawing.click(predict_drawing, sketch, drawing_outputs, **in_order)
        clear.click(
            lambda: (None, None, None, DRAW_FIRST, None, ""), None, [sketch, *drawing_outputs, flag_status], **in_order
        ).then(None, js=SELECT_BRUSH_JS)
        demo.load(None, js=SELECT_BRUSH_JS)
        upload.change(
            read_upload, upload, [boxes, number, label, frame, message, reading], preprocess=False, api_visibility="undocumented"
        )
        flag_outputs = [sketch, flag_status, correct_digit, label, frame, message, reading]
        for button, verdict in ((flag_wrong, "wrong"), (flag_right, "correct")):
            button.click(
                lambda digit, state, verdict=verdict: flag(digit, state, verdict), [correct_digit, reading], flag_outputs, **in_order
            )

        with gr.Row(visible=False):
            api_file = gr.File(type="filepath")
            api_digit = gr.Number(precision=0)
            api_label = gr.Label(num_top_classes=3)
            api_text = gr.Textbox()
        gr.Button(visible=False).click(api_predict, api_file, api_label, api_name="predict")
        gr.Button(visible=False).click(api_read, api_file, api_text, api_name="read")
        gr.Button(visible=False).click(api_flag, [api_file, api_digit], api_text, api_name="flag")

        flagger.setup([sketch, correct_digit, reading], str(flag_dir))
    return demo


def about_text(loaded: LoadedModel) -> str:
    facts = loaded.facts
    lines = [f"- **Model:** {loaded.source} ({loaded.location})"]
    if loaded.revision:
        lines.append(f"- **Revision:** `{loaded.revision}`")
    if facts:
        lines.append(f"- **Profile:** {facts.get('profile', '?')}: {facts.get('description', '')}")
        if "accuracy" in facts:
            lines.append(f"- **MNIST test accuracy:** {100 * float(facts['accuracy']):.2f}% on {facts.get('n_test', '?')} images")
        if "ece" in facts:
            lines.append(f"- **Expected calibration error:** {float(facts['ece']):.4f}")
        if "n_support_vectors" in facts:
            lines.append(f"- **Support vectors:** {facts['n_support_vectors']}")
    else:
        lines.append("- No model card was found, so accuracy figures are unknown.")
    lines.append(f"- Below {NOT_SURE_BELOW:.0%} confidence the app says it is not sure.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the handwritten digit recogniser.")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loaded = resolve_model()
    logger.info("serving %s model from %s", loaded.source, loaded.location)
    demo = build_app(loaded)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=args.share,
        max_file_size=config.MAX_UPLOAD_BYTES,
    )


if __name__ == "__main__":
    main()
