"""The live answer, as the page's hook drives it (web.ink, web.handlers.ink_on_page): specified
without a server, on real pen digits drawn as the sketchpad draws them."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from digit_core.errors import InvalidImageError
from digit_core.real_data import draw_pen_number
from digit_core.strokes import draw_strokes
from tests.drawing import page_ink
from web import handlers
from web.ink import MAX_INK_CHARS, parse_ink

SAVED = "Saved, thank you. It will train the next model once reviewed."


@pytest.fixture(scope="module")
def context(starter_model, tmp_path_factory):
    from digit_core.hub import resolve_model
    from digit_core.flags import FlagGate

    loaded = resolve_model(model_path=None, repo_id=None)
    return handlers.AppContext.create(loaded, flag_dir=tmp_path_factory.mktemp("flags"), flag_gate=FlagGate(burst=1000, per_minute=1000))


def _page():
    return copy.deepcopy(handlers.Page())  # as gr.State(Page) makes one for each new page


def _pen_drawing(pen, index: int, rng) -> np.ndarray:
    return draw_strokes(pen.strokes(index), height=rng.uniform(100, 300), brush=rng.uniform(15, 30), canvas=(600, 600))


def test_parse_ink_reads_the_page_payload_and_names_what_is_wrong():
    assert parse_ink(None).seq == 0 and parse_ink(None).png is None
    assert parse_ink('{"seq": 3, "png": null}').seq == 3
    for bad, match in (
        ("not json", "not JSON"),
        ('{"seq": -1}', "seq=-1"),
        ('{"seq": true}', "seq=True"),
        ('{"seq": 1, "png": "data:text/plain;base64,AA=="}', "not a data URL"),
        ('{"seq": 1, "png": "data:image/png;base64,@@@"}', "not valid base64"),
        ("x" * (MAX_INK_CHARS + 1), "at most"),
    ):
        with pytest.raises(InvalidImageError, match=match):
            parse_ink(bad)


def test_ink_on_page_reads_held_out_pen_digits_as_the_whole_canvas_is_read(context, held_out_pen):
    """One reading path: the page's small crop and the full canvas give the same digit (the crop's
    30% margin is what makes them agree: 10% lost 1.5 points on these writers)."""
    rng = np.random.default_rng(0)
    picks = rng.choice(len(held_out_pen), 60, replace=False)
    same = right = 0
    for seq, index in enumerate(picks, start=1):
        drawing = _pen_drawing(held_out_pen, int(index), rng)
        whole = handlers.read_drawing(context, {"composite": drawing})
        top, _, message, _, shown, _ = handlers.ink_on_page(context, page_ink(drawing, seq=seq), "", _page())
        same += (top and next(iter(top))) == (whole[0] and next(iter(whole[0])))
        right += bool(top) and next(iter(top)) == str(held_out_pen.labels[index])
        assert json.loads(shown) == {"seq": seq}
    assert same >= 58 and right >= 57, (same, right)


def test_ink_on_page_reads_a_pen_number_left_to_right(context, held_out_pen):
    drawing = draw_pen_number(held_out_pen, [3, 10], height=160, brush=20, gaps=[0.4], canvas=(600, 600))
    expected = "".join(str(held_out_pen.labels[i]) for i in (3, 10))
    top, picture, message, _, _, page = handlers.ink_on_page(context, page_ink(drawing, seq=1), "", _page())
    assert top is None and f"Read **{expected}**" in message and picture is not None
    assert [d["digit"] for d in page.reading["digits"]] == [int(c) for c in expected]


def test_an_older_drawing_arriving_late_never_replaces_the_newer_answer(context, held_out_pen):
    rng = np.random.default_rng(1)
    first, second = (_pen_drawing(held_out_pen, i, rng) for i in (0, 1))
    page = _page()
    newer = handlers.ink_on_page(context, page_ink(second, seq=2), "", page)
    older = handlers.ink_on_page(context, page_ink(first, seq=1), "", page)
    assert all(getattr(part, "__class__", None).__name__ == "dict" and part.get("__type__") == "update" for part in older[:5])
    assert page.seq == 2 and page.reading["digits"][0]["digit"] == int(next(iter(newer[0])))


def test_after_clear_a_drawing_sent_before_it_never_reappears(context, held_out_pen):
    drawing = _pen_drawing(held_out_pen, 2, np.random.default_rng(2))
    page = _page()
    handlers.ink_on_page(context, page_ink(drawing, seq=1), "", page)
    cleared = handlers.ink_on_page(context, page_ink(np.zeros((600, 600, 4), np.uint8), seq=2), SAVED, page)
    assert cleared[:4] == (None, None, handlers.DRAW_FIRST, SAVED) and page.reading is None
    late = handlers.ink_on_page(context, page_ink(drawing, seq=1), "", page)
    assert late[2] != handlers.DRAW_FIRST and late[2]["__type__"] == "update" and page.reading is None


def test_a_flag_applies_only_to_the_drawing_whose_answer_is_shown_and_closes_it(context, held_out_pen):
    drawing = _pen_drawing(held_out_pen, 4, np.random.default_rng(3))
    page = _page()
    handlers.ink_on_page(context, page_ink(drawing, seq=1), "", page)
    waiting = handlers.flag_on_page(context, "correct", "", page, '{"seq": 2}')  # drawn on since
    assert "still being read" in waiting[0] and page.reading is not None
    saved = handlers.flag_on_page(context, "correct", "", page, '{"seq": 1}')
    assert saved[0].startswith("Saved") and saved[4] == handlers.DRAW_FIRST and page.reading is None
    late = handlers.ink_on_page(context, page_ink(drawing, seq=1), "", page)  # sent before the flag
    assert late[2]["__type__"] == "update" and page.reading is None


def test_correct_with_another_number_typed_is_refused_and_says_which_button_does_what(context, held_out_pen):
    drawing = _pen_drawing(held_out_pen, 5, np.random.default_rng(4))
    page = _page()
    read = str(handlers.ink_on_page(context, page_ink(drawing, seq=1), "", page)[4])
    digit = str(page.reading["digits"][0]["digit"])
    other = str((int(digit) + 1) % 10)
    refused = handlers.flag_on_page(context, "correct", other, page, '{"seq": 1}')
    assert refused[0] == (
        f"You typed {other} but it read {digit}: press **Flag as wrong** to save {other}, "
        f"or empty the box and press **Correct!** to confirm {digit}."
    )
    assert page.reading is not None and read
    saved = handlers.flag_on_page(context, "correct", f" {digit} ", page, '{"seq": 1}')  # the reading itself typed
    assert saved[0].startswith("Saved")


def test_a_flag_on_the_upload_tab_says_what_to_do_next_on_that_tab(context, tmp_path, held_out_pen):
    from PIL import Image

    drawing = _pen_drawing(held_out_pen, 6, np.random.default_rng(5))
    path = tmp_path / "digit.png"
    on_white = Image.new("RGBA", (600, 600), "white")
    on_white.alpha_composite(Image.fromarray(drawing))
    on_white.convert("RGB").save(path)
    page = _page()
    handlers.upload_on_page(context, str(path), '{"seq": 4}', page)
    assert page.seq == 4 and page.source == "upload"
    saved = handlers.flag_on_page(context, "correct", "", page, '{"seq": 4}')
    assert saved[0].startswith("Saved") and saved[4] == handlers.UPLOAD_NEXT
    again = handlers.flag_on_page(context, "correct", "", page, '{"seq": 4}')  # the page's seq is unchanged
    assert again[0].startswith("Upload an image first") and "Draw" not in again[0]
