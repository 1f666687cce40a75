"""Turning readings into what the page shows and keeps: pictures, messages, the About panel, and the
state a flag needs of a reading."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from digit_core.hub import LoadedModel
from digit_core.images import ACCEPTED_FORMATS, shrink
from digit_core.reading import ReadDigit, Reading, a_digit

#: Below this calibrated probability the app says "not sure" instead of naming a digit.
NOT_SURE_BELOW = 0.6
#: The 28x28 frame is shown this many pixels wide, enlarged without smoothing.
FRAME_DISPLAY_SIZE = 224
#: Uploads are shown at most this wide or tall (boxes are scaled to match).
DISPLAY_SIDE = 1024
#: A session keeps the image it may flag at most this many pixels on its longer side.
FLAG_IMAGE_SIDE = 640
DRAW_FIRST = "Draw a digit first."
UPLOAD_FIRST = f"Upload an image first ({ACCEPTED_FORMATS})."
UPLOAD_NEXT = "Upload another image to read it, or draw one on the Draw tab."


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
    """What the page says of one digit: the digit and how sure, "Not sure" with the two likeliest
    below NOT_SURE_BELOW, and a note when the mark may not be a digit at all."""
    top = prediction.top(2)
    (first, p1), (second, p2) = list(top.items())
    if prediction.confidence < NOT_SURE_BELOW:
        return (
            f"**Not sure.** Maybe {a_digit(first)} ({p1:.0%}) or {a_digit(second)} ({p2:.0%}). "
            "Try writing it larger and clearer."
        )
    article, _ = a_digit(first).split(" ")
    if prediction.maybe_not_a_digit:  # between a sure refusal and a sure digit: say both
        return f"It's {article} **{first}** ({p1:.0%} sure), if it is a digit at all: it looks a little like a letter or a scribble."
    return f"It's {article} **{first}** ({p1:.0%} sure)."


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

