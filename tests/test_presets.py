"""Reading presets: the kind of image chooses how it is read, and the preset is passed down."""

from __future__ import annotations

from PIL import Image

from digit_core.images import to_grayscale
from digit_core.presets import DOCUMENT, DRAWING, choose_preset
from digit_core.reading import read_digits
from digit_core.real_data import load_labelled_set
from digit_core.rejection import letter_drawings
from digit_core.strokes import draw_strokes
from tests.conftest import REAL_DIR


def test_choose_preset_takes_a_canvas_drawing_for_a_drawing(held_out_pen):
    drawing = draw_strokes(held_out_pen.strokes(0), height=200, brush=22)
    assert choose_preset(to_grayscale(drawing)) is DRAWING


def test_choose_preset_takes_a_cheque_photo_for_a_document():
    cheque = load_labelled_set(REAL_DIR / "orand_car_a_train").items[0]
    assert choose_preset(to_grayscale(Image.open(cheque.path))) is DOCUMENT


def test_read_digits_reads_with_the_preset_it_is_given(starter_model):
    letter = letter_drawings(letters="K")[0]
    assert read_digits(starter_model, letter, single=True).refusal() is not None
    as_document = read_digits(starter_model, letter, single=True, preset=DOCUMENT)
    assert as_document.refusal() is None and as_document.digits[0].likeness is None
