"""Not a digit: letters, scribbles and blots are answered as such, real digits by other writers are not."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from digit_core.evaluation import not_a_digit_rates
from digit_core.reading import read_digits
from digit_core.rejection import HELD_OUT_FONTS, LETTER_FONTS, hershey_glyphs, letter_drawings, scribble_drawings
from digit_core.strokes import draw_strokes
from web import handlers


@pytest.mark.parametrize("font", LETTER_FONTS + HELD_OUT_FONTS)
def test_every_shipped_hershey_font_has_a_glyph_of_strokes_for_each_printable_character(font):
    glyphs = hershey_glyphs(font)
    assert len(glyphs) == 96  # ASCII 32-127
    letter = glyphs[ord("k") - 32]
    assert letter and all(stroke.ndim == 2 and stroke.shape[1] == 2 for stroke in letter)


@pytest.mark.slow
def test_letters_in_fonts_never_trained_on_are_mostly_answered_not_a_digit(starter_model):
    letters = letter_drawings(letters="AEFHKMNRTUVWXYaefhkmnrtuvwxy")  # no letter written like a digit
    refused, noted = not_a_digit_rates(starter_model, letters)
    assert refused >= 0.55 and refused + noted >= 0.88  # 62% and 92% (the font-letter part: 65% and 98%)


@pytest.mark.slow
def test_scribbles_are_mostly_answered_not_a_digit(starter_model):
    refused, noted = not_a_digit_rates(starter_model, scribble_drawings(100, random_state=7))
    assert refused >= 0.45 and refused + noted >= 0.8  # 51% and 86% (the font-letter part: 63% and 94%)


@pytest.mark.slow
def test_other_writers_digits_are_hardly_ever_answered_not_a_digit(starter_model, held_out_pen):
    rng = np.random.default_rng(11)
    drawings = [
        draw_strokes(held_out_pen.strokes(i), height=rng.uniform(100, 300), brush=rng.uniform(15, 30))
        for i in rng.choice(len(held_out_pen), 300, replace=False)
    ]
    assert not_a_digit_rates(starter_model, drawings)[0] <= 0.01


def test_a_letter_drawn_in_the_app_is_answered_as_such_and_not_as_a_sure_digit(starter_model, tmp_path):
    from digit_core.hub import resolve_model

    context = handlers.AppContext.create(resolve_model(model_path=None, repo_id=None), flag_dir=tmp_path / "flags")
    letter = letter_drawings(letters="K")[0]
    top, frame, message, state = handlers.read_drawing(context, {"composite": letter})
    assert top is None and message.startswith("That doesn't look like a digit")
    assert frame is not None and state is not None  # if it was a digit after all, it can still be flagged


def test_predict_json_says_not_a_digit_for_a_letter_and_reads_a_digit(tmp_path, capsys, held_out_pen):
    from tests.script_runner import load_script

    predict = load_script("predict")

    letter, digit = tmp_path / "letter.png", tmp_path / "digit.png"
    Image.fromarray(letter_drawings(letters="W")[0], "RGBA").save(letter)
    index = int(np.flatnonzero(held_out_pen.labels == 3)[0])
    Image.fromarray(draw_strokes(held_out_pen.strokes(index), height=220, brush=22), "RGBA").save(digit)
    assert predict.main(["--json", str(letter), str(digit)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["file"] == str(letter) and lines[0]["error"].startswith("not a digit")
    assert lines[1]["digits"] == "3"


def test_a_model_without_a_rejector_rejects_nothing(small_model):
    blank_like = letter_drawings(letters="X")[0]
    assert read_digits(small_model, blank_like, single=True).refusal() is None
