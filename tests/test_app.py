"""The app's API on a real server on 127.0.0.1, called with gradio_client."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from digit_core.flagging import read_flags
from tests.drawing import draw_on_canvas, encode, number_strip


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
    sample_id = client.predict(handle_file(_file(tmp_path, "flag.png", encode(seven))), 1, api_name="/flag")
    (sample,) = [s for s in read_flags(flag_dir) if s.id == sample_id]
    assert sample.label == 1 and sample.metadata["source"] == "api" and sample.metadata["predicted"] == 7


@pytest.mark.parametrize("digit, message", [(11, "expected an integer 0-9"), (-2, "expected an integer 0-9")])
def test_flag_refuses_a_label_outside_0_to_9(client, seven, tmp_path, digit, message):
    with pytest.raises(AppError, match=message):
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


def test_a_model_fallback_is_shown_on_the_page():
    import app as digit_app
    from digit_core.hub import resolve_model

    loaded = resolve_model(model_path="/nonexistent/model.skops", repo_id=None)
    demo = digit_app.build_app(loaded, flag_dir="/tmp/unused-flags")
    markdown = [c.get("props", {}).get("value", "") for c in demo.config["components"] if c.get("type") == "markdown"]
    assert any("/nonexistent/model.skops" in text and "starter" in text for text in markdown)
