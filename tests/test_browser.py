"""The pages in a real browser: Debian's chromium, headless, driven by Playwright."""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.script_runner import load_script

_draw_loop = load_script("draw_loop")
ACTIONS, CHROMIUM, CHROMIUM_ARGS, NUMBERS = _draw_loop.ACTIONS, _draw_loop.CHROMIUM, _draw_loop.CHROMIUM_ARGS, _draw_loop.NUMBERS
busy_cores, run_rounds = _draw_loop.busy_cores, _draw_loop.run_rounds
from tests.drawing import encode, number_strip

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_server):
    """A fresh page for each test, as a new visitor sees it."""
    url, _ = app_server
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(url)
    page.wait_for_selector("#sketchpad canvas", timeout=60_000)
    yield page
    page.close()


def _top_label(page) -> str:
    return page.locator("#label").inner_text()


def draw_seven(page) -> None:
    """Two mouse strokes, as a person draws a 7: a bar, then a slanted stem."""
    expect(page.locator("#sketchpad")).not_to_contain_text("select the draw tool", timeout=15_000)
    box = page.locator("#sketchpad canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    mouse = page.mouse
    mouse.move(cx - 70, cy - 110)
    mouse.down()
    for step in range(1, 13):
        mouse.move(cx - 70 + 12 * step, cy - 110, steps=2)
    mouse.up()
    mouse.move(cx + 74, cy - 108)
    mouse.down()
    for step in range(1, 18):
        mouse.move(cx + 74 - 6 * step, cy - 108 + 13 * step, steps=2)
    mouse.up()


def test_drawing_a_seven_with_the_mouse_shows_7_on_top(page, tmp_path):
    draw_seven(page)
    expect(page.locator("#label")).to_contain_text(re.compile(r"^\s*Top 3\s*7", re.M), timeout=20_000)
    expect(page.locator("#message")).to_contain_text("7")
    page.screenshot(path=str(tmp_path / "drawn.png"))


def test_clearing_the_canvas_leaves_no_stale_answer(page):
    draw_seven(page)
    expect(page.locator("#message")).to_contain_text("7", timeout=20_000)
    page.locator("#clear").click()
    expect(page.locator("#message")).to_contain_text("Draw a digit first", timeout=10_000)
    expect(page.locator("#label")).not_to_contain_text("%")
    expect(page.locator("#sketchpad")).not_to_contain_text("select the draw tool", timeout=15_000)


def test_flagging_a_drawing_saves_it_and_readies_the_canvas(page, app_server):
    from digit_core.flags import read_flags

    _, flag_dir = app_server
    before = {sample.id for sample in read_flags(flag_dir)}
    draw_seven(page)
    page.locator("#read-drawing").click()  # the button reads the drawing too
    expect(page.locator("#message")).to_contain_text("7", timeout=20_000)
    page.locator("#flag-wrong").click()  # no digit picked yet: asked for one, the reading kept
    expect(page.locator("#flag-status")).to_contain_text("Type the right digit", timeout=10_000)
    expect(page.locator("#message")).to_contain_text("7")
    page.locator("#correct-digit textarea, #correct-digit input").first.fill("1")
    page.locator("#flag-wrong").click()
    expect(page.locator("#flag-status")).to_contain_text("Saved, thank you.", timeout=10_000)
    expect(page.locator("#message")).to_contain_text("Draw a digit first")
    new = [sample for sample in read_flags(flag_dir) if sample.id not in before]
    assert [(s.label, s.metadata["source"], s.metadata["verdict"]) for s in new] == [(1, "draw", "wrong")]


def test_uploading_a_scanned_number_shows_the_number(page, mnist_test, tmp_path):
    scan = tmp_path / "number.png"
    scan.write_bytes(encode(number_strip([mnist_test.images[i] for i in (1, 2, 3, 4)], rng=np.random.default_rng(0), height=90)))
    page.get_by_role("tab", name="Upload").click()
    expect(page.locator("#message")).to_contain_text("Upload an image first", timeout=10_000)
    page.locator("#upload input[type=file]").set_input_files(str(scan))
    expect(page.locator("#number textarea")).to_have_value("2104", timeout=20_000)
    expect(page.locator("#message")).to_contain_text("2104")
    page.get_by_role("tab", name="Draw").click()  # the answer follows the tab shown: an empty canvas
    expect(page.locator("#message")).to_contain_text("Draw a digit first", timeout=10_000)


def _stroke(mouse, points) -> None:
    mouse.move(*points[0])
    mouse.down()
    for point in points[1:]:
        mouse.move(*point, steps=6)
    mouse.up()


def draw_seventeen(page) -> None:
    """A 1, then a 7 beside it, across the wide canvas, scaled to the canvas as shown."""
    expect(page.locator("#sketchpad")).not_to_contain_text("select the draw tool", timeout=15_000)
    box = page.locator("#sketchpad canvas").first.bounding_box()
    cx, cy, s = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["height"] / 350
    _stroke(page.mouse, [(cx - 60 * s, cy - 60 * s), (cx - 60 * s, cy + 60 * s)])
    _stroke(page.mouse, [(cx + 10 * s, cy - 60 * s), (cx + 70 * s, cy - 60 * s), (cx + 30 * s, cy + 60 * s)])


def test_a_number_drawn_with_the_mouse_is_read_and_flagged_by_typing_it(page, app_server):
    from digit_core.flags import read_flags

    _, flag_dir = app_server
    before = {sample.id for sample in read_flags(flag_dir)}
    draw_seventeen(page)
    expect(page.locator("#message")).to_contain_text("Read 17", timeout=20_000)
    page.locator("#correct-digit textarea, #correct-digit input").first.fill("171")
    page.locator("#flag-wrong").click()
    expect(page.locator("#flag-status")).to_contain_text("it read 2 digits and you typed 3 digits", timeout=10_000)
    page.locator("#correct-digit textarea, #correct-digit input").first.fill("11")
    page.locator("#flag-wrong").click()
    expect(page.locator("#flag-status")).to_contain_text("Saved its 2 digits", timeout=10_000)
    new = [sample for sample in read_flags(flag_dir) if sample.id not in before]
    assert sorted(s.label for s in new) == [1, 1]


def test_the_canvas_own_clear_button_resets_the_answer(page):
    draw_seven(page)
    expect(page.locator("#message")).to_contain_text("7", timeout=20_000)
    page.locator('#sketchpad button[aria-label="Clear canvas"]').click()
    expect(page.locator("#message")).to_contain_text("Draw a digit first", timeout=10_000)
    expect(page.locator("#label")).not_to_contain_text("%")


def test_on_a_phone_the_answer_is_right_under_the_canvas_and_no_control_is_useless(browser, app_server, tmp_path):
    url, _ = app_server
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_selector("#sketchpad canvas", timeout=60_000)
        draw_seventeen(page)  # a touch screen's pointer events, as the mouse sends them
        expect(page.locator("#message")).to_contain_text("Read 17", timeout=20_000)
        page.screenshot(path=str(tmp_path / "phone.png"))
        for element in ("#sketchpad canvas", "#message", "#flag-wrong"):
            box = page.locator(element).first.bounding_box()
            assert box["y"] + box["height"] <= 844, f"{element} is below the fold"
        for useless in ("Pan", "Zoom in", "Zoom out", "Color"):
            expect(page.locator(f'#sketchpad button[aria-label="{useless}"]')).to_be_hidden()
        tools = page.locator('#sketchpad button[aria-label="Brush"]').bounding_box()
        canvas = page.locator("#sketchpad canvas").first.bounding_box()
        assert tools["x"] + tools["width"] <= canvas["x"], "the tool bar covers the canvas"
    finally:
        context.close()


def test_the_draw_loop_never_sticks_while_both_cores_are_busy(browser, app_server):
    """Draw -> answer -> Clear, a flag, Correct! or the canvas's trash -> draw again, on one page,
    with two processes spinning beside it: every drawing answered, the brush still chosen, no spinner
    left, the page reset each time. Every number and every action at least once; the full 50 rounds
    are `python scripts/draw_loop.py --busy 2`."""
    url, _ = app_server
    rounds = max(len(NUMBERS), 2 * len(ACTIONS))
    with busy_cores(2):
        summary = run_rounds(browser, url, rounds, log=lambda line: None)
    assert summary["passed"] == rounds
