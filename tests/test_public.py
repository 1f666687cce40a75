"""The app as strangers with the share link meet it: several people, each from an address of their
own on 127.0.0.x, some through a proxy as on a Space.

The server is the real app launched by ``app.serve`` on 127.0.0.1, as ``python app.py`` launches it,
with the proxy at 127.0.0.1 trusted (``FORWARDED_ALLOW_IPS``). "Through the proxy" means a
connection from 127.0.0.1 whose ``X-Forwarded-For`` ends with the person's real address, which the
proxy appends to whatever the person wrote there. People who connect directly come from 127.0.0.2
and up (the client socket is bound to that source address). Every loop is bounded in count and time.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from digit_core import config
from digit_core.flags import read_flags
from tests.drawing import draw_on_canvas, encode
from web.people import trusted_proxies

PROXY = "127.0.0.1"
#: The upload cache in these tests: swept every second, files older than 2 s deleted (so each
#: call below sends its file just before).
EXPIRY = (1.0, 2.0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    """The app served as on a public link, with the configured flag budget; yields a namespace with
    its url, port, flag folder and the Blocks."""
    import app as digit_app
    from digit_core.hub import resolve_model

    flag_dir = tmp_path_factory.mktemp("public-flags")
    cache = tmp_path_factory.mktemp("public-cache")  # Gradio's upload cache, this server's own
    before, os.environ["GRADIO_TEMP_DIR"] = os.environ.get("GRADIO_TEMP_DIR"), str(cache)
    demo = digit_app.build_app(resolve_model(model_path=None, repo_id=None), flag_dir=flag_dir)
    stop = threading.Event()
    port = _free_port()
    _, url, _ = digit_app.serve(
        demo, expiry=EXPIRY, trusted=PROXY, stop=stop, prevent_thread_lock=True, quiet=True, server_port=port
    )
    yield type("Public", (), dict(url=url.rstrip("/"), port=port, flag_dir=flag_dir, demo=demo, cache=cache))
    stop.set()
    demo.close()
    if before is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = before


def cache_mb(folder) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


@pytest.fixture(scope="module")
def seven_png(mnist_test) -> bytes:
    return encode(draw_on_canvas(mnist_test.images[0], digit_height=260, brush=20))


def person(address: str) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (127.0.0.x)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60)


def through_proxy(real: str, written: str | None = None) -> dict:
    """The headers a Space's proxy sends on: what the person wrote in X-Forwarded-For, then the
    address the proxy saw them connect from."""
    return {"x-forwarded-for": f"{written}, {real}" if written else real}


def upload(client: httpx.Client, url: str, data: bytes, name: str = "digit.png", headers=None) -> dict:
    response = client.post(f"{url}/gradio_api/upload", files={"files": (name, data, "image/png")}, headers=headers)
    response.raise_for_status()
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}


def call(client: httpx.Client, url: str, api_name: str, data: list, headers=None) -> tuple[int, str]:
    """POST /gradio_api/call/<api_name> and read its answer: (HTTP status of the call, the answer's
    SSE text, or the refusal's detail)."""
    posted = client.post(f"{url}/gradio_api/call/{api_name}", json={"data": data}, headers=headers)
    if posted.status_code != 200:
        return posted.status_code, posted.json().get("detail", posted.text)
    answer = client.get(f"{url}/gradio_api/call/{api_name}/{posted.json()['event_id']}", headers=headers)
    return 200, answer.text


def raw_request_head(port: int, head: str, *, source: str = "127.0.0.2") -> str:
    """Send only a request's head (its declared body never follows) and return the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(head.encode())
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    return response.decode(errors="replace")


def test_trusted_proxies_refuse_a_wildcard():
    assert trusted_proxies("10.0.0.0/8, 127.0.0.1") == "10.0.0.0/8,127.0.0.1,::1"  # this machine: the MCP server's calls
    with pytest.raises(ValueError, match=r"FORWARDED_ALLOW_IPS='\*'.*Name the proxy's addresses"):
        trusted_proxies("*")


def test_bound_handlers_still_ask_gradio_for_the_request():
    import inspect

    import gradio as gr
    from gradio.utils import get_type_hints

    from web.handlers import bind, classify_digit, flag_digit, flag_on_page

    for bound, inputs in ((bind(flag_digit, None), ["image", "digit"]), (bind(flag_on_page, None, "wrong"), ["answer", "page", "ink"])):
        assert list(inspect.signature(bound).parameters) == [*inputs, "request"]
        assert get_type_hints(bound)["request"] is gr.Request  # what Gradio reads to pass the request
    assert bind(classify_digit, None).__name__ == "classify_digit" and "Args:" in bind(classify_digit, None).__doc__


def test_public_api_and_mcp_tools_are_exactly_the_three_documented(public):
    import asyncio

    from gradio_client import Client
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    api = Client(public.url, verbose=False).view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/predict", "/read", "/flag"} and not api["unnamed_endpoints"]

    async def tools():
        async with streamable_http_client(f"{public.url}/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return sorted(tool.name for tool in (await session.list_tools()).tools)

    assert asyncio.run(tools()) == ["classify_digit", "flag_digit", "read_number"]


def test_one_person_flooding_flags_with_fake_forwarded_addresses_keeps_one_budget_and_others_keep_theirs(public, seven_png):
    flooder = person(PROXY)  # the flooder's requests arrive through the proxy
    before = len(read_flags(public.flag_dir))
    requests = 2 * config.FLAG_BURST + 4

    def flood(i: int) -> str:
        headers = through_proxy("203.0.113.9", written=f"198.18.0.{i + 1}")  # a new fake first address each time
        return call(flooder, public.url, "flag", [upload(flooder, public.url, seven_png, headers=headers), 7], headers=headers)[1]

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(flood, range(requests)))
    flooded = len(read_flags(public.flag_dir)) - before
    assert flooded <= config.FLAG_BURST + 1 and sum("slow down" in a for a in answers) >= requests - flooded - 1

    # Two other people: one through the proxy, one connecting directly who writes the flooder's
    # address into X-Forwarded-For (not believed: 127.0.0.2 is no trusted proxy).
    others = [(person(PROXY), through_proxy("198.51.100.7")), (person("127.0.0.2"), {"x-forwarded-for": "127.0.0.9"})]
    for client, headers in others:
        answers = [call(client, public.url, "flag", [upload(client, public.url, seven_png, headers=headers), 7], headers=headers) for _ in range(3)]
        assert all(status == 200 and "event: complete" in text for status, text in answers), answers
    assert len(read_flags(public.flag_dir)) - before == flooded + 6


def test_an_mcp_caller_is_the_address_the_proxy_saw_not_the_one_they_wrote(public, seven_png):
    import asyncio
    import base64

    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from digit_core.flags import client_key

    image = "data:image/png;base64," + base64.b64encode(seven_png).decode()

    async def flag(source: str, headers: dict) -> None:
        http = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=source), headers=headers, timeout=60)
        async with http, streamable_http_client(f"{public.url}/gradio_api/mcp/", http_client=http) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                answer = await session.call_tool("flag_digit", {"image": image, "digit": 7})
                assert not answer.isError, answer

    before = {s.id for s in read_flags(public.flag_dir)}
    asyncio.run(flag(PROXY, through_proxy("192.0.2.10", written="198.18.0.1")))
    asyncio.run(flag("127.0.0.8", {"x-forwarded-for": "192.0.2.10"}))
    clients = sorted(s.metadata["client"] for s in read_flags(public.flag_dir) if s.id not in before)
    assert clients == sorted([client_key("192.0.2.10"), client_key("127.0.0.8")])


def test_oversized_requests_are_refused_before_their_body_is_read_naming_the_limit(public):
    limit_mb = f"{config.MAX_REQUEST_BYTES / 2**20:.0f} MB"
    heads = {
        "100 MB of JSON": ("/gradio_api/call/predict", "application/json", 100 * 2**20),
        "10 files of 20 MB": ("/gradio_api/upload", "multipart/form-data; boundary=x", 10 * 20 * 2**20 + 2000),
        "one 25 MB file": ("/gradio_api/upload", "multipart/form-data; boundary=x", 25 * 2**20 + 200),
    }
    for what, (path, kind, length) in heads.items():
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\nContent-Length: {length}\r\n\r\n"
        response = raw_request_head(public.port, head)  # answered without waiting for the body
        assert response.startswith("HTTP/1.1 413") and f"the limit is {limit_mb} a request" in response, what


def test_a_body_sent_without_its_length_is_cut_off_at_the_limit(public):
    boundary = "digitboundary"
    chunk = 2**20

    def body():  # two files of 15 MB in one multipart upload, sent chunked
        for name in ("first.png", "second.png"):
            yield f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\nContent-Type: image/png\r\n\r\n'.encode()
            for _ in range(15):
                yield bytes(chunk)
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    cached = cache_mb(public.cache)
    with person("127.0.0.3") as client:
        try:
            response = client.post(f"{public.url}/gradio_api/upload", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
            assert response.status_code == 413 and "the limit is 21 MB a request" in response.json()["detail"]
        except httpx.TransportError:  # the server answered and closed before the body ended
            pass
        # and a JSON body without a length
        response = client.post(f"{public.url}/gradio_api/call/predict", content=(bytes(chunk) for _ in range(30)), headers={"content-type": "application/json"})
        assert response.status_code == 413 and "the limit is 21 MB a request" in response.json()["detail"]
    assert cache_mb(public.cache) <= cached + 0.1  # the part of the first file written is gone


def test_one_person_posting_80_calls_at_once_leaves_room_for_another(public, mnist_test):
    big = io.BytesIO()
    draw_on_canvas(mnist_test.images[1], canvas=1600, digit_height=1400, brush=90).save(big, format="PNG")  # a slow read
    attacker = person("127.0.0.4")
    file_data = upload(attacker, public.url, big.getvalue())

    def post(_) -> httpx.Response:
        return attacker.post(f"{public.url}/gradio_api/call/predict", json={"data": [file_data]})

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(post, range(80)))
        victim = person("127.0.0.5")
        own = upload(victim, public.url, encode(draw_on_canvas(mnist_test.images[0], digit_height=260, brush=20)))
        start = time.monotonic()
        status, text = call(victim, public.url, "predict", [own])
        seconds = time.monotonic() - start
    refused = [a for a in answers if a.status_code == 429]
    assert refused and all("Too many requests from you" in a.json()["detail"] for a in refused)
    assert {a.status_code for a in answers} <= {200, 429}
    assert status == 200 and '"label": "7"' in text and seconds < 10, (status, text, seconds)


def test_the_page_events_of_one_person_are_bounded_the_same_way(public, mnist_test):
    """The drawing's reading skips the queue (``queue=False``, as the page sends it: one POST): its
    calls count among the person's pending ones all the same."""
    import base64
    import json

    fn_index = next(i for i, d in enumerate(public.demo.config["dependencies"]) if d.get("api_name") == "ink")
    big = encode(draw_on_canvas(mnist_test.images[1], canvas=1200, digit_height=1000, brush=70))  # a slow read
    ink = json.dumps({"seq": 1, "png": "data:image/png;base64," + base64.b64encode(big).decode()})
    page = person("127.0.0.6")

    def read(i: int) -> httpx.Response:
        body = {"data": [ink, None, None], "fn_index": fn_index, "session_hash": f"page{i}", "event_data": None, "trigger_id": None}
        return page.post(f"{public.url}/gradio_api/run/predict", json=body)

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(read, range(60)))
        with person("127.0.0.8") as other:
            body = {"data": [ink, None, None], "fn_index": fn_index, "session_hash": "other", "event_data": None, "trigger_id": None}
            own = other.post(f"{public.url}/gradio_api/run/predict", json=body)
    refused = [a for a in answers if a.status_code != 200]
    assert refused and all("Too many requests from you" in a.json()["error"] for a in refused), [a.text for a in refused[:1]]
    assert len(refused) < len(answers)
    assert own.status_code == 200 and own.json()["data"][0]["label"] == str(mnist_test.labels[1])  # another person is answered


def test_uploads_are_gone_from_disk_soon_after_use_however_many_arrive(public, seven_png):
    client = person("127.0.0.7")
    paths = [upload(client, public.url, seven_png + bytes(2**20), name=f"u{i}.png")["path"] for i in range(40)]
    small = upload(client, public.url, seven_png)
    for _ in range(10):
        assert call(client, public.url, "predict", [small])[0] == 200
    deadline = time.monotonic() + 4 * sum(EXPIRY)
    while time.monotonic() < deadline and any(_exists(p) for p in paths + [small["path"]]):
        time.sleep(0.25)
    assert not any(_exists(p) for p in paths + [small["path"]]) and cache_mb(public.cache) < 5


def _exists(path: str) -> bool:
    from pathlib import Path

    return Path(path).exists()


def test_an_upload_of_more_files_than_allowed_is_refused_naming_the_limit(public, seven_png):
    limit = config.MAX_FILES_PER_REQUEST
    files = [("files", (f"seven{i}.png", seven_png, "image/png")) for i in range(limit + 1)]
    cached = cache_mb(public.cache)
    with person("127.0.0.9") as client:
        response = client.post(f"{public.url}/gradio_api/upload", files=files)
        assert response.status_code == 413
        assert f"the limit is {limit} files a request" in response.json()["detail"]
        one = client.post(f"{public.url}/gradio_api/upload", files=files[:1])
        assert one.status_code == 200  # one image, as the page and the client libraries send it
    assert cache_mb(public.cache) <= cached + 0.1
