"""The app's API on a real server on 127.0.0.1, called with gradio_client."""

from __future__ import annotations

import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from digit_core.flags import read_flags
from tests.drawing import draw_on_canvas, encode, number_strip
from web import handlers


@pytest.fixture(scope="module")
def client(app_server):
    url, _ = app_server
    return Client(url, verbose=False)


@pytest.fixture(scope="module")
def seven(mnist_test) -> Image.Image:
    return draw_on_canvas(mnist_test.images[0], digit_height=260, brush=20)


def _file(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_api_lists_the_three_named_endpoints(client):
    assert {"/predict", "/read", "/flag"} <= set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def test_predict_gives_the_top_3_of_a_drawn_digit(client, seven, tmp_path):
    result = client.predict(handle_file(_file(tmp_path, "seven.png", encode(seven))), api_name="/predict")
    assert result["label"] == "7" and len(result["confidences"]) == 3
    assert result["confidences"][0]["confidence"] > 0.9


def test_predict_reads_at_least_98_of_100_held_out_pen_digits_drawn_as_on_the_page(client, held_out_pen, tmp_path):
    """Other writers' pen digits, drawn on the page's 600x600 canvas with its brush (44 px wide),
    about half the canvas tall, sent to /predict as PNG files: at least 98 of 100 read right."""
    from digit_core.strokes import draw_strokes

    rng = np.random.default_rng(11)
    misread = []
    for index in rng.choice(len(held_out_pen.labels), 100, replace=False):
        drawing = draw_strokes(held_out_pen.strokes(int(index)), height=float(rng.uniform(220, 360)), brush=44, canvas=(600, 600))
        path = tmp_path / f"pen{index}.png"
        on_paper = Image.new("RGBA", (600, 600), "white")
        on_paper.alpha_composite(Image.fromarray(drawing))
        on_paper.convert("RGB").save(path)
        try:
            top = client.predict(handle_file(str(path)), api_name="/predict")
        except AppError as refusal:  # "not a digit": not read right
            misread.append(f"{held_out_pen.labels[index]}: {refusal}")
            continue
        if top["label"] != str(held_out_pen.labels[index]):
            misread.append(f"{held_out_pen.labels[index]} read {top['label']}")
    assert len(misread) <= 2, f"{100 - len(misread)} of 100 read right; {misread}"


def test_read_gives_every_digit_of_a_scanned_number(client, mnist_test, tmp_path, rng):
    strip = number_strip([mnist_test.images[i] for i in (1, 2, 3, 4)], rng=rng, height=80)
    assert client.predict(handle_file(_file(tmp_path, "number.jpg", encode(strip, "JPEG", quality=85))), api_name="/read") == "2104"


def _bad_files(seven: Image.Image) -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, expected: a message fragment, or 'read:<digit>' for a correct reading)."""
    on_white = Image.new("RGBA", seven.size, "white")
    on_white.alpha_composite(seven)
    grey = on_white.convert("L")
    gif = io.BytesIO()
    grey.save(gif, format="GIF", save_all=True, append_images=[Image.new("L", grey.size, 90)], duration=50, loop=0)
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = encode(grey.transpose(Image.Transpose.ROTATE_90).convert("RGB"), "JPEG", quality=90, exif=exif)
    png16 = encode(Image.fromarray(np.asarray(grey, dtype=np.uint16) * 257))
    return {
        "corrupt.png": (encode(seven)[:300], "corrupt or truncated"),
        "notes.png": (b"hello, this is text", "is not an image"),
        "empty.png": (b"", "empty"),
        "bomb.png": (encode(Image.new("1", (12_000, 12_000), 1)), "megapixels"),
        "animated.gif": (gif.getvalue(), "read:7"),
        "sixteen.png": (png16, "read:7"),
        "cmyk.jpg": (encode(on_white.convert("RGB").convert("CMYK"), "JPEG", quality=90), "read:7"),
        "phone.jpg": (sideways, "read:7"),
        "transparent.png": (encode(seven), "read:7"),
        "blank.png": (encode(Image.new("RGB", (300, 300), "white")), "no digit found"),
    }


@pytest.mark.parametrize("endpoint", ["/predict", "/read"])
def test_bad_input_gets_a_clear_message_or_a_correct_reading_and_the_server_keeps_serving(client, seven, tmp_path, endpoint):
    for name, (data, expected) in _bad_files(seven).items():
        path = handle_file(_file(tmp_path, name, data))
        if expected.startswith("read:"):
            result = client.predict(path, api_name=endpoint)
            digit = result["label"] if endpoint == "/predict" else result
            assert digit == expected.removeprefix("read:"), name
        else:
            with pytest.raises(AppError, match=expected):
                client.predict(path, api_name=endpoint)
    assert client.predict(handle_file(_file(tmp_path, "again.png", encode(seven))), api_name="/read") == "7"


def test_an_upload_over_the_size_limit_is_refused_and_the_server_keeps_serving(client, seven, tmp_path):
    huge = _file(tmp_path, "huge.png", encode(seven) + bytes(21 * 1024 * 1024))
    with pytest.raises(Exception, match="(?i)(too large|maximum|size|exceed)"):
        client.predict(handle_file(huge), api_name="/predict")
    assert client.predict(handle_file(_file(tmp_path, "ok.png", encode(seven))), api_name="/predict")["label"] == "7"


def test_flag_returns_the_stored_sample_id(app_server, client, seven, tmp_path):
    _, flag_dir = app_server
    sample_id = client.predict(handle_file(_file(tmp_path, "flag.png", encode(seven))), "1", api_name="/flag")
    (sample,) = [s for s in read_flags(flag_dir) if s.id == sample_id]
    assert sample.label == 1 and sample.status == "pending" and sample.metadata["source"] == "api" and sample.metadata["predicted"] == 7


@pytest.mark.parametrize("digit", [11, -2, 3.5, True, "seven", None])
def test_flag_refuses_a_label_that_is_not_one_digit_and_names_it(client, seven, tmp_path, digit):
    with pytest.raises(AppError, match=f"label {digit!r} is not a digit; expected an integer 0-9"):
        client.predict(handle_file(_file(tmp_path, "x.png", encode(seven))), digit, api_name="/flag")


def test_fifty_flags_at_once_are_all_kept_once(app_server, mnist_test, tmp_path):
    url, flag_dir = app_server
    before = {s.id for s in read_flags(flag_dir)}
    files = []
    for i in range(50):
        files.append(_file(tmp_path, f"d{i}.png", encode(draw_on_canvas(mnist_test.images[100 + i], digit_height=200 + i, brush=16))))
    clients = [Client(url, verbose=False) for _ in range(10)]

    def send(i: int) -> str:
        return clients[i % 10].predict(handle_file(files[i]), int(mnist_test.labels[100 + i]), api_name="/flag")

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = list(pool.map(send, range(50)))
    assert len(set(ids)) == 50
    samples = {s.id: s for s in read_flags(flag_dir)}
    new = set(samples) - before
    assert new == set(ids)
    for i, sample_id in enumerate(ids):
        Image.open(samples[sample_id].path).verify()
        assert samples[sample_id].label == int(mnist_test.labels[100 + i])
    lines = sum(len(p.read_text().splitlines()) for p in flag_dir.glob("samples/*/metadata.jsonl"))
    assert lines == len(samples) and len(list(flag_dir.glob("samples/*/*.png"))) == len(samples)
    json.dumps([s.metadata for s in samples.values()])  # every line is plain JSON


def test_a_drawing_the_page_sends_as_its_ink_box_is_read_by_the_private_ink_event(app_server, seven, client):
    """What the browser does after a stroke (web.assets.PAGE_HEAD): the ink's box as a small PNG with
    the page's sequence number, through the private ``ink`` event, posted directly (not queued); the
    answer says which drawing it is for. The event is not public API."""
    import httpx

    from tests.drawing import page_ink

    url, _ = app_server
    session = "ink-by-page"
    config = httpx.get(f"{url}config", timeout=10).json()
    ink = next(d for d in config["dependencies"] if d.get("api_name") == "ink")
    assert ink["api_visibility"] == "private"
    assert "/ink" not in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert ink["queue"] is False  # one POST, answered as it arrives, as the page sends it
    with httpx.Client(base_url=url, timeout=30) as http:
        answer = http.post(
            "gradio_api/run/predict",
            json={"data": [page_ink(seven, seq=1), "", None], "fn_index": ink["id"], "session_hash": session, "event_data": None, "trigger_id": None},
        )
        answer.raise_for_status()
    top, _, message, _, shown = answer.json()["data"][:5]
    assert top["label"] == "7" and "**7**" in message and json.loads(shown) == {"seq": 1}


@pytest.mark.slow
def test_the_sketchpad_pictures_waiting_for_their_event_stay_within_their_bound():
    """The sketchpad's accept_blobs endpoint is open to anyone: what it keeps is bounded in bytes,
    the oldest dropped first, whatever a stranger sends."""
    from gradio.components.image_editor import EditorDataBlobs

    drawings = handlers.DrawingBlobs(max_bytes=100_000)
    for i in range(50):
        drawings[f"id-{i}"] = EditorDataBlobs(background=b"b" * 1_000, layers=[b"l" * 3_000, None], composite=b"c" * 6_000)
    assert drawings.nbytes <= 100_000 and len(drawings) == 10
    assert "id-49" in drawings and "id-39" not in drawings
    assert drawings["id-49"].composite == b"c" * 6_000


def test_a_model_fallback_is_shown_on_the_page():
    import app as digit_app
    from digit_core.hub import resolve_model

    loaded = resolve_model(model_path="/nonexistent/model.skops", repo_id=None)
    demo = digit_app.build_app(loaded, flag_dir="/tmp/unused-flags")
    markdown = [c.get("props", {}).get("value", "") for c in demo.config["components"] if c.get("type") == "markdown"]
    assert any("/nonexistent/model.skops" in text and "starter" in text for text in markdown)


# --- handlers, called as the page calls them (no server) --------------------------------------


@pytest.fixture(scope="module")
def starter():
    from digit_core.hub import resolve_model

    return resolve_model(model_path=None, repo_id=None)


def test_handlers_read_a_drawing_and_say_what_to_do_with_nothing(starter, seven, tmp_path):
    import app as digit_app

    context = handlers.AppContext.create(starter, flag_dir=tmp_path / "flags")
    top, frame, message, state = handlers.read_drawing(context, {"composite": np.asarray(seven)})
    assert next(iter(top)) == "7" and frame.shape == (224, 224) and "**7**" in message and state["digits"][0]["digit"] == 7
    assert handlers.read_drawing(context, None) == (None, None, handlers.DRAW_FIRST, None)
    assert handlers.read_upload(context, None)[4] == handlers.UPLOAD_FIRST
    with pytest.raises(digit_app.gr.Error, match="no file was sent"):
        handlers.read_number(context, None)


def test_clearing_resets_the_answer_and_keeps_only_a_saved_flags_thanks(starter, tmp_path):

    context = handlers.AppContext.create(starter, flag_dir=tmp_path / "flags")
    saved = "Saved, thank you. It will train the next model once reviewed."
    assert handlers.clear_drawing(context, saved) == (None, None, handlers.DRAW_FIRST, saved, None)
    assert handlers.clear_drawing(context, "Type the right digit first, then press **Flag as wrong**.")[3] == ""


def test_a_flag_sent_while_the_drawing_is_still_being_read_flags_that_drawing(starter, seven, tmp_path):
    """Gradio hands an event the page's state before the event runs: the flag must still wait for
    the reading in progress and flag it, not the empty page before it."""
    import copy
    import threading


    context = handlers.AppContext.create(starter, flag_dir=tmp_path / "flags")
    page = copy.deepcopy(handlers.Page())  # as gr.State(Page) makes one for each new page
    reading_started, finish_reading = threading.Event(), threading.Event()

    def slow_reading(_):
        reading_started.set()
        finish_reading.wait(10)
        return handlers.read_drawing(context, {"composite": np.asarray(seven)})

    reader = threading.Thread(target=handlers.on_page, args=(page, slow_reading))
    reader.start()
    assert reading_started.wait(10)
    flagged = []
    flagger = threading.Thread(target=lambda: flagged.append(handlers.flag_on_page(context, "wrong", "1", page)))
    flagger.start()
    finish_reading.set()
    reader.join(10), flagger.join(10)
    status, *_, returned = flagged[0]
    assert status.startswith("Saved, thank you.") and returned is page and page.reading is None
    assert [(s.label, s.metadata["source"]) for s in read_flags(tmp_path / "flags")] == [(1, "draw")]


def test_a_flag_folder_that_cannot_be_written_is_named_on_the_page_and_in_each_flag(starter, seven, tmp_path):
    import app as digit_app

    blocker = tmp_path / "flags"
    blocker.write_text("a file where the flag folder should be")
    demo = digit_app.build_app(starter, flag_dir=blocker / "inside")
    markdown = [c.get("props", {}).get("value", "") for c in demo.config["components"] if c.get("type") == "markdown"]
    assert any("Flags cannot be saved right now" in text and "Not a directory" in text for text in markdown)
    context = handlers.AppContext.create(starter, flag_dir=blocker / "inside")
    state = handlers.read_drawing(context, {"composite": np.asarray(seven)})[3]
    status = handlers.flag_reading(context, "wrong", "1", state)[0]
    assert status.startswith("Not saved: could not save") and "Not a directory" in status


@pytest.mark.slow
def test_fifty_flags_from_one_client_store_at_most_the_burst_and_none_trains_before_review(starter, mnist_test, tmp_path, capsys):
    import app as digit_app
    from tests.script_runner import load_script

    train = load_script("train")

    flag_dir = tmp_path / "flags"
    demo = digit_app.build_app(starter, flag_dir=flag_dir)  # the configured limit
    demo.queue(default_concurrency_limit=digit_app.CONCURRENCY)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        files = [_file(tmp_path, f"d{i}.png", encode(draw_on_canvas(mnist_test.images[200 + i], digit_height=220, brush=18))) for i in range(50)]
        clients = [Client(url, verbose=False) for _ in range(5)]

        def send(i: int) -> str:
            try:
                return clients[i % 5].predict(handle_file(files[i]), int(mnist_test.labels[200 + i]), api_name="/flag")
            except AppError as exc:
                return f"refused: {exc}"

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(send, range(50)))
    finally:
        demo.close()
    stored = [a for a in answers if not a.startswith("refused")]
    refused = [a for a in answers if a.startswith("refused")]
    assert len(stored) <= digit_app.config.FLAG_BURST + 1 and len(stored) + len(refused) == 50
    assert all("slow down" in a for a in refused)
    assert {s.id for s in read_flags(flag_dir)} == set(stored)
    capsys.readouterr()
    assert train.main(["--extra", str(flag_dir), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"added": 0, "pending_skipped": len(stored), "rejected_skipped": 0}


def test_the_upload_cache_sweeper_deletes_old_uploads_and_keeps_what_the_page_shows(starter, tmp_path):
    import threading

    import app as digit_app

    demo = digit_app.build_app(starter, flag_dir=tmp_path / "flags")
    uploads = [tmp_path / f"upload{i}.png" for i in range(3)]
    for path in uploads:
        path.write_bytes(b"x" * 1000)
    demo.upload_file_set.update(str(p) for p in uploads)
    shown = {name for block in demo.blocks.values() for name in getattr(block, "keep_in_cache", ())}  # the About panel's picture
    stop = threading.Event()
    sweeper = threading.Thread(target=digit_app.sweep_upload_cache, args=(demo,), kwargs=dict(every=0.05, age=0.0, stop=stop))
    sweeper.start()
    time.sleep(0.5)
    stop.set()
    sweeper.join()
    assert not any(p.exists() for p in uploads) and not demo.upload_file_set & {str(p) for p in uploads}
    assert shown and all(Path(name).exists() for name in shown)


def test_an_mcp_client_lists_the_tools_and_reads_a_number_through_them(app_server, mnist_test, rng):
    import asyncio
    import base64

    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    url, _ = app_server
    strip = number_strip([mnist_test.images[i] for i in (1, 2, 3, 4)], rng=rng, height=80)
    seven = draw_on_canvas(mnist_test.images[0], digit_height=260, brush=20)
    as_data = lambda image: "data:image/png;base64," + base64.b64encode(encode(image)).decode()  # noqa: E731

    async def session():
        async with streamable_http_client(f"{url.rstrip('/')}/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as client:
                await client.initialize()
                tools = {tool.name: tool for tool in (await client.list_tools()).tools}
                number = await client.call_tool("read_number", {"image": as_data(strip)})
                digit = await client.call_tool("classify_digit", {"image": as_data(seven)})
                return tools, number, digit

    tools, number, digit = asyncio.run(session())
    assert {"classify_digit", "read_number", "flag_digit"} <= set(tools)
    assert "handwritten digit" in tools["read_number"].description and "image" in tools["read_number"].inputSchema["properties"]
    assert not number.isError and "2104" in number.content[0].text
    assert not digit.isError and digit.content[0].text.startswith("{'label': '7'")


def test_an_mcp_client_sending_a_url_the_app_may_not_fetch_is_told_the_rule(app_server):
    """Gradio's download refuses loopback, private and link-local addresses before our handler runs;
    the caller is told which rule and what to send instead, not "raised an exception"."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    url, _ = app_server

    async def session():
        async with streamable_http_client(f"{url.rstrip('/')}/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as client:
                await client.initialize()
                return [await client.call_tool("read_number", {"image": address}) for address in
                        ("http://127.0.0.1:1/digit.png", "http://169.254.169.254/latest/meta-data")]

    for result, address in zip(asyncio.run(session()), ("127.0.0.1:1", "169.254.169.254")):
        text = result.content[0].text
        assert result.isError and f"The image at http://{address}" in text, text
        assert "its host is not a public internet address" in text and "data:image/png;base64" in text


def test_the_answer_names_an_eight_in_correct_english_and_a_number_has_no_top_3(starter, mnist_test, rng, tmp_path):

    context = handlers.AppContext.create(starter, flag_dir=tmp_path / "flags")
    eight = draw_on_canvas(mnist_test.images[int(np.flatnonzero(mnist_test.labels == 8)[0])], digit_height=260, brush=20)
    assert "It's an **8**" in handlers.read_drawing(context, {"composite": np.asarray(eight)})[2]
    strip = number_strip([mnist_test.images[i] for i in (1, 2, 3, 4)], rng=rng, height=80)
    _, number, top, frame, message, _ = handlers.read_upload(context, _file(tmp_path, "n.png", encode(strip)))
    assert number == "2104" and top is None and frame is None and "**2104**" in message


def _pen_number(held_out_pen, digits: str, rng) -> np.ndarray:
    """A number written by other writers' pen digits on the app's wide canvas, a third of a digit apart."""
    indices = [int(rng.choice(np.flatnonzero(held_out_pen.labels == int(d)))) for d in digits]
    from digit_core.real_data import draw_pen_number

    return draw_pen_number(held_out_pen, indices, height=160, brush=20, gaps=[0.35] * (len(digits) - 1))


def test_a_number_drawn_on_the_canvas_is_read_left_to_right_with_its_boxes(starter, held_out_pen, tmp_path):
    import app as digit_app

    context = handlers.AppContext.create(starter, flag_dir=tmp_path / "flags")
    rng = np.random.default_rng(3)
    drawing = _pen_number(held_out_pen, "305", rng)
    top, picture, message, state = handlers.read_drawing(context, {"composite": drawing})
    assert top is None  # a number has no top 3
    assert picture.ndim == 3 and picture.shape[1] <= 2 * digit_app.FRAME_DISPLAY_SIZE  # the drawing with its boxes
    assert "**305**" in message and [d["digit"] for d in state["digits"]] == [3, 0, 5]


def test_flagging_a_number_saves_each_digit_with_its_label_or_says_the_count_differs(starter, held_out_pen, tmp_path):
    from digit_core.flags import FlagGate

    flag_dir = tmp_path / "flags"
    context = handlers.AppContext.create(starter, flag_dir=flag_dir, flag_gate=FlagGate(burst=100, per_minute=100))
    drawing = _pen_number(held_out_pen, "47", np.random.default_rng(5))
    state = handlers.read_drawing(context, {"composite": drawing})[3]
    assert len(state["digits"]) == 2
    status = handlers.flag_reading(context, "wrong", "471", state)[0]
    assert status.startswith("Not saved: it read 2 digits and you typed 3 digits (471)")
    status = handlers.flag_reading(context, "wrong", "4 seven", state)[0]
    assert "'4 seven' is not a digit or a number" in status
    assert read_flags(flag_dir) == []
    status = handlers.flag_reading(context, "wrong", "41", state)[0]
    assert status.startswith("Saved its 2 digits")
    stored = sorted(read_flags(flag_dir), key=lambda s: s.metadata["timestamp"])
    assert sorted(s.label for s in stored) == [1, 4]
    # Each digit is its own sample: its own crop of the drawing, the frame the model read.
    sizes = {Image.open(s.path).size for s in stored}
    assert len(sizes) == 2 and all(w < 800 for w, _ in sizes)
    assert all(len(s.metadata["frame"]) == 28 for s in stored)


def test_a_digit_that_may_not_be_one_is_named_with_a_note_instead_of_refused():
    from digit_core.reading import ReadDigit
    from web.answers import verdict_message

    probabilities = np.full(10, 0.002)
    probabilities[1] = 1 - probabilities.sum() + 0.002
    doubtful = ReadDigit(np.zeros((28, 28), np.float32), probabilities, (0, 0, 28, 28), likeness=0.2, maybe_not_a_digit=True)
    sure = ReadDigit(np.zeros((28, 28), np.float32), probabilities, (0, 0, 28, 28), likeness=2.0)
    assert verdict_message(doubtful).startswith("It's a **1** (98% sure), if it is a digit at all")
    assert verdict_message(sure) == "It's a **1** (98% sure)."
