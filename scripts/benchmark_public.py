"""What a stranger with the share link can do to the app: measure it, print the figures as JSON.

    python scripts/benchmark_public.py                     # every measurement below
    python scripts/benchmark_public.py --only flags fair   # some of them

- ``flags``: one flag's cost in a store already holding 50,000 samples (p50/p99 over 200 flags).
- ``memory``: the server's resident memory before and after 100 sessions each send a 39 MP image
  through every event that takes an image (the page's drawing and upload events, /predict, /read,
  /flag).
- ``cache``: 200 uploads of 19.5 MB; Gradio's upload cache size right after and once the configured
  expiry has passed (the app runs with ``DIGIT_CACHE_EXPIRY=10,20`` here).
- ``fair``: another page's drawing answered while 3 pages keep sending the largest drawings the
  drawing's event takes (500x500 of noise) and 39 MP uploads (p50/p99 over 50 drawings, each sent
  as the page sends it: one POST of the ink's box), and on an idle server.

Several people, as on a Space (``SPACE_ID`` set, the proxy at 127.0.0.1 trusted through
``FORWARDED_ALLOW_IPS``, which appends the address it saw to ``X-Forwarded-For``; people who connect
directly come from 127.0.0.2 and up):

- ``people``: one person floods ``/flag`` through the proxy for 10 s, a new fake first
  ``X-Forwarded-For`` address each request; flags stored, then 3 flags from each of two others.
- ``size``: a 100 MB JSON body to ``/gradio_api/call/predict`` and one upload of 10 files of 20 MB,
  really sent; the answers, the server's memory growth and the upload cache afterwards.
- ``queue``: one person posts 80 ``/predict`` calls at once; how many are admitted, and how long
  another person's ``/predict`` takes meanwhile.
- ``disk``: 40 uploads of 19.5 MB and 100 predictions, with the shipped cache expiry; the upload
  cache right after and two minutes later.
- ``public``: the API's named endpoints and the MCP server's tools.

The app runs as ``python app.py`` on 127.0.0.1 in a temporary folder; the page's own events are
called the way the page calls them (by ``fn_index``: the drawing's in one POST, an upload's through
the queue), since they are not open to the client libraries.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw

from digit_core.flags import FlagStore, read_flags
from digit_core.flags.record import encode_rows, metadata_file

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = ("flags", "memory", "cache", "fair", "people", "size", "queue", "disk", "public")
#: The Space's proxy in these measurements (trusted through FORWARDED_ALLOW_IPS).
PROXY = "127.0.0.1"
AS_ON_A_SPACE = {"SPACE_ID": "benchmark/digits", "FORWARDED_ALLOW_IPS": PROXY}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmark_public.py", description="Measure the app against a hostile public user.")
    parser.add_argument("--only", nargs="+", choices=MEASUREMENTS, default=list(MEASUREMENTS), help="measurements to run (default: all)")
    parser.add_argument("--stored", type=int, default=50_000, help="samples already in the flag store (default 50000)")
    parser.add_argument("--sessions", type=int, default=100, help="sessions sending a 39 MP image (default 100)")
    parser.add_argument("--uploads", type=int, default=200, help="large uploads for the cache measurement (default 200)")
    return parser


# --- the flag store at 50,000 samples -------------------------------------------------------------


def digit_picture(side: int = 400, *, seed: int = 0) -> Image.Image:
    """A black '1'-like stroke with a flag on white, ``side`` pixels square."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(image)
    x = side // 2 + int(rng.integers(-side // 10, side // 10))
    width = max(2, side // 20)
    draw.line([(x, side // 8), (x, side * 7 // 8)], fill=0, width=width)
    draw.line([(x, side // 8), (x - side // 6, side // 4)], fill=0, width=width)
    return image


def flag_store_figures(stored: int, flags: int = 200) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        # Fill the store as many writers would have: metadata lines, each with its own image file
        # (hard links of one PNG, so filling takes seconds).
        store = FlagStore(folder, writer="filled")
        store.add(digit_picture(), label=1)
        (sample,) = read_flags(folder)
        rows = []
        for _ in range(stored - 1):
            name = f"{uuid.uuid4().hex}.png"
            os.link(sample.path, store.folder / name)
            rows.append({**sample.metadata, "file_name": name})
        with open(metadata_file(store.folder), "ab") as metadata:
            metadata.write(encode_rows(rows))
        writer = FlagStore(folder, max_samples=stored + flags + 1)
        picture = digit_picture(seed=1)
        start = time.perf_counter()
        writer.add(picture, label=1)  # the first flag reads the counts once
        first_flag = time.perf_counter() - start
        seconds = []
        for _ in range(flags):
            start = time.perf_counter()
            writer.add(picture, label=1)
            seconds.append(time.perf_counter() - start)
        ms = np.asarray(seconds) * 1000
        return {
            "stored": stored,
            "first_flag_ms": round(first_flag * 1000, 1),
            "flag_p50_ms": round(float(np.percentile(ms, 50)), 2),
            "flag_p99_ms": round(float(np.percentile(ms, 99)), 2),
        }


# --- the app as a stranger sees it ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningApp:
    """``python app.py`` on a free port, with its own flag folder and Gradio cache."""

    def __init__(self, folder: Path, **env: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cache = folder / "gradio-cache"
        environment = {
            **os.environ,
            "GRADIO_SERVER_PORT": str(self.port),
            "GRADIO_TEMP_DIR": str(self.cache),
            "DIGIT_FLAG_DIR": str(folder / "flags"),
            **env,
        }
        self.log = open(folder / "app.log", "wb")
        self.process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=folder, env=environment,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            self.close()
            raise RuntimeError("the app did not start within 120 s")
        self.dependencies = httpx.get(f"{self.url}/config", timeout=10).json()["dependencies"]

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def person(self, address: str) -> httpx.Client:
        """An HTTP client whose connections come from ``address`` (127.0.0.x)."""
        return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=120)

    def cache_mb(self) -> float:
        return sum(p.stat().st_size for p in self.cache.rglob("*") if p.is_file()) / 1e6 if self.cache.exists() else 0.0

    def fn_index(self, api_name: str) -> int:
        for index, dependency in enumerate(self.dependencies):
            if dependency.get("api_name") == api_name:
                return dependency.get("id", index)
        raise KeyError(api_name)

    def queued(self, api_name: str) -> bool:
        return self.dependencies[self.fn_index(api_name)].get("queue") is not False

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


class PageSession:
    """One browser page's session, speaking the page's protocol: upload files, join the queue."""

    def __init__(self, app: RunningApp):
        self.app = app
        self.session = uuid.uuid4().hex[:11]
        self.http = httpx.Client(timeout=120)

    def upload(self, data: bytes, name: str = "image.png") -> dict:
        response = self.http.post(f"{self.app.url}/gradio_api/upload", files={"files": (name, data, "image/png")})
        response.raise_for_status()
        path = response.json()[0]
        return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    def call(self, api_name: str, data: list) -> tuple[float, bool]:
        """Seconds until the event's answer, and whether it succeeded: one POST for an event that
        skips the queue (the drawing's ``ink``), else join the queue and read its stream."""
        start = time.perf_counter()
        body = {"data": data, "fn_index": self.app.fn_index(api_name), "session_hash": self.session, "event_data": None, "trigger_id": None}
        if not self.app.queued(api_name):
            answer = self.http.post(f"{self.app.url}/gradio_api/run/predict", json=body)
            return time.perf_counter() - start, answer.status_code == 200 and "error" not in answer.json()
        join = self.http.post(f"{self.app.url}/gradio_api/queue/join", json=body)
        if join.status_code != 200:
            return time.perf_counter() - start, False
        with self.http.stream("GET", f"{self.app.url}/gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return time.perf_counter() - start, bool(message.get("success"))
        return time.perf_counter() - start, False

    def close(self) -> None:
        self.http.close()


def ink_payload(png: bytes, seq: int = 1) -> list:
    """The inputs of the drawing's event (``ink``) as the page sends them (``web.assets.PAGE_HEAD``):
    the ink's box as a PNG data URL with the page's sequence number, the flag status shown, then the
    page's state (which the server keeps: the page sends null)."""
    ink = {"seq": seq, "png": "data:image/png;base64," + base64.b64encode(png).decode()}
    return [json.dumps(ink), "", None]


def upload_payload(file_data: dict, seq: int = 1) -> list:
    """The inputs of an upload's event (``read_upload``): the file, the page's sequence number, the state."""
    return [file_data, json.dumps({"seq": seq, "png": None}), None]


def huge_png(megapixels: float = 39.0) -> bytes:
    side = int(np.sqrt(megapixels * 1e6))
    buffer = io.BytesIO()
    digit_picture(side).save(buffer, format="PNG")
    return buffer.getvalue()


def memory_figures(folder: Path, sessions: int) -> dict:
    from gradio_client import Client, handle_file

    big = huge_png()
    big_file = folder / "huge.png"
    big_file.write_bytes(big)
    app = RunningApp(folder)
    try:
        time.sleep(2)
        before = app.rss_mb()
        peak = before

        def one_session(i: int) -> None:
            page = PageSession(app)
            client = Client(app.url, verbose=False)
            try:
                page.call("ink", ink_payload(big))  # over the payload's size limit when large: refused
                page.call("read_upload", upload_payload(page.upload(big)))
                for api_name, args in (("/predict", ()), ("/read", ()), ("/flag", (1,))):
                    try:
                        client.predict(handle_file(str(big_file)), *args, api_name=api_name)
                    except Exception:  # refused (too large, slow down): what we measure is memory
                        pass
            finally:
                page.close()

        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, app.rss_mb())
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(one_session, range(sessions)))
        done.set()
        watcher.join()
        time.sleep(2)
        after = app.rss_mb()
        return {
            "sessions": sessions,
            "image_megapixels": 39.0,
            "image_file_kb": round(len(big) / 1024),
            "rss_before_mb": round(before),
            "rss_after_mb": round(after),
            "rss_growth_mb": round(after - before),
            "rss_peak_mb": round(peak),
            "seconds": round(time.perf_counter() - start, 1),
        }
    finally:
        app.close()


def cache_figures(folder: Path, uploads: int) -> dict:
    app = RunningApp(folder, DIGIT_CACHE_EXPIRY="10,20")
    try:
        filler = os.urandom(int(19.5 * 1024 * 1024))
        page = PageSession(app)
        start = time.perf_counter()
        for i in range(uploads):
            page.upload(filler, name=f"big{i}.png")
        upload_seconds = time.perf_counter() - start
        right_after = app.cache_mb()
        waited = 0.0
        while app.cache_mb() >= 100 and waited < 120:
            time.sleep(1)
            waited += 1
        page.close()
        return {
            "uploads": uploads,
            "upload_mb": 19.5,
            "upload_seconds": round(upload_seconds, 1),
            "cache_mb_right_after": round(right_after),
            "expiry": "checked every 10 s, files older than 20 s deleted",
            "seconds_until_under_100_mb": waited,
            "cache_mb_then": round(app.cache_mb()),
        }
    finally:
        app.close()


def fairness_figures(folder: Path, drawings: int = 50, attackers: int = 3) -> dict:
    """Another page's drawing answered while ``attackers`` pages keep sending the largest drawings the
    page's event takes and 39 MP uploads, and on an idle server. Each drawing is sent as the page
    sends it: the ink's box, at most 256 px, as one POST (``ink``)."""
    big = huge_png()
    small = io.BytesIO()
    digit_picture(256, seed=3).save(small, format="PNG")
    largest = io.BytesIO()  # the largest drawing the payload's limit lets through: noise, 500x500
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (500, 500), dtype=np.uint8)).save(largest, format="PNG")
    app = RunningApp(folder)
    try:
        def victim_drawings(count: int) -> list[float]:
            victim = PageSession(app)
            seconds = []
            for seq in range(1, count + 1):
                elapsed, ok = victim.call("ink", ink_payload(small.getvalue(), seq))
                if ok:
                    seconds.append(elapsed)
            victim.close()
            return seconds

        idle = np.asarray(victim_drawings(drawings)) * 1000
        stop = threading.Event()

        def attack() -> int:
            page = PageSession(app)
            sent = 0
            try:
                while not stop.is_set():
                    sent += 1
                    page.call("ink", ink_payload(largest.getvalue(), sent))
                    page.call("read_upload", upload_payload(page.upload(big), sent))
            finally:
                page.close()
            return sent

        with ThreadPoolExecutor(max_workers=attackers) as pool:
            attacks = [pool.submit(attack) for _ in range(attackers)]
            time.sleep(2)
            seconds = victim_drawings(drawings)
            stop.set()
            sent = sum(a.result() for a in attacks)
        ms = np.asarray(seconds) * 1000
        return {
            "idle_p50_ms": round(float(np.percentile(idle, 50)), 1),
            "idle_p99_ms": round(float(np.percentile(idle, 99)), 1),
            "attackers": attackers,
            "attack_rounds_sent": sent,
            "largest_drawing_kb": round(len(largest.getvalue()) / 1024),
            "victim_drawings_answered": len(seconds),
            "victim_p50_ms": round(float(np.percentile(ms, 50)), 1),
            "victim_p99_ms": round(float(np.percentile(ms, 99)), 1),
        }
    finally:
        app.close()


# --- several people, as on a Space ----------------------------------------------------------------


def _small_png(seed: int = 3) -> bytes:
    buffer = io.BytesIO()
    digit_picture(400, seed=seed).save(buffer, format="PNG")
    return buffer.getvalue()


def _file_data(client: httpx.Client, app: RunningApp, data: bytes, headers=None, name: str = "digit.png") -> dict:
    response = client.post(f"{app.url}/gradio_api/upload", files={"files": (name, data, "image/png")}, headers=headers)
    response.raise_for_status()
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}


def _call(client: httpx.Client, app: RunningApp, api_name: str, data: list, headers=None) -> tuple[int, str]:
    """POST /gradio_api/call/<api_name>, then read its answer: (status of the call, answer text)."""
    posted = client.post(f"{app.url}/gradio_api/call/{api_name}", json={"data": data}, headers=headers)
    if posted.status_code != 200:
        return posted.status_code, posted.text
    return 200, client.get(f"{app.url}/gradio_api/call/{api_name}/{posted.json()['event_id']}", headers=headers).text


def people_figures(folder: Path, seconds: float = 10.0, workers: int = 4) -> dict:
    from digit_core.flags import read_flags

    app = RunningApp(folder, **AS_ON_A_SPACE)
    flags = lambda: len(read_flags(folder / "flags"))  # noqa: E731
    try:
        flooder = app.person(PROXY)
        real = "203.0.113.9"  # the address the proxy saw the flooder connect from
        file_data = _file_data(flooder, app, _small_png(), headers={"x-forwarded-for": real})
        deadline = time.monotonic() + seconds

        def flood(worker: int) -> int:
            sent = 0
            while time.monotonic() < deadline:
                fake = f"198.18.{worker}.{sent % 250 + 1}"  # a new first address each request
                _call(flooder, app, "flag", [file_data, 1], headers={"x-forwarded-for": f"{fake}, {real}"})
                sent += 1
            return sent

        with ThreadPoolExecutor(max_workers=workers) as pool:
            sent = sum(pool.map(flood, range(workers)))
        flooded = flags()
        others = []
        for client, headers in ((app.person(PROXY), {"x-forwarded-for": "198.51.100.7"}), (app.person("127.0.0.2"), {"x-forwarded-for": real})):
            own = _file_data(client, app, _small_png(seed=5), headers=headers)
            answers = [_call(client, app, "flag", [own, 1], headers=headers) for _ in range(3)]
            others.append(sum(status == 200 and "event: complete" in text for status, text in answers))
        return {"flood_seconds": seconds, "flood_requests": sent, "flood_stored": flooded, "others_stored_of_3": others,
                "stored_total": flags()}
    finally:
        app.close()


def _send_big(client: httpx.Client, url: str, **request) -> str:
    try:
        response = client.post(url, **request)
        return f"{response.status_code} {response.text[:160]}"
    except httpx.TransportError as exc:  # the server answered and closed before the body was sent
        return f"closed by the server ({type(exc).__name__})"


def size_figures(folder: Path) -> dict:
    app = RunningApp(folder, **AS_ON_A_SPACE)
    try:
        time.sleep(2)
        before, peak = app.rss_mb(), app.rss_mb()
        client = app.person("127.0.0.2")
        json_body = b'{"data": ["' + b"a" * (100 * 2**20) + b'"]}'
        json_answer = _send_big(client, f"{app.url}/gradio_api/call/predict", content=json_body, headers={"content-type": "application/json"})
        peak = max(peak, app.rss_mb())
        del json_body
        files = [("files", (f"big{i}.png", os.urandom(20 * 2**20), "image/png")) for i in range(10)]
        upload_answer = _send_big(app.person("127.0.0.3"), f"{app.url}/gradio_api/upload", files=files)
        peak = max(peak, app.rss_mb())
        time.sleep(1)
        return {
            "json_100mb": json_answer,
            "upload_10x20mb": upload_answer,
            "rss_before_mb": round(before),
            "rss_growth_mb": round(max(peak, app.rss_mb()) - before),
            "cache_mb": round(app.cache_mb(), 1),
        }
    finally:
        app.close()


def queue_figures(folder: Path, calls: int = 80) -> dict:
    app = RunningApp(folder, **AS_ON_A_SPACE)
    try:
        attacker = app.person("127.0.0.2")
        big = io.BytesIO()
        digit_picture(2500, seed=2).save(big, format="PNG")  # about 0.3 s a reading
        file_data = _file_data(attacker, app, big.getvalue())
        victim = app.person("127.0.0.3")
        own = _file_data(victim, app, _small_png())
        post = lambda _: attacker.post(f"{app.url}/gradio_api/call/predict", json={"data": [file_data]})  # noqa: E731
        with ThreadPoolExecutor(max_workers=calls) as pool:
            answers = list(pool.map(post, range(calls)))
            start = time.perf_counter()
            status, text = _call(victim, app, "predict", [own])
            seconds = time.perf_counter() - start
        codes = [a.status_code for a in answers]
        refusal = next((a.json().get("detail") for a in answers if a.status_code == 429), None)
        return {"calls": calls, "admitted": codes.count(200), "refused_429": codes.count(429), "other": len(codes) - codes.count(200) - codes.count(429),
                "refusal": refusal, "other_person_answered": status == 200 and "event: complete" in text, "other_person_seconds": round(seconds, 2)}
    finally:
        app.close()


def disk_figures(folder: Path, uploads: int = 40, predictions: int = 100, wait: float = 120.0) -> dict:
    app = RunningApp(folder, **AS_ON_A_SPACE)  # the shipped expiry (DIGIT_CACHE_EXPIRY)
    try:
        client = app.person("127.0.0.2")
        filler = os.urandom(int(19.5 * 2**20))
        start = time.perf_counter()
        for i in range(uploads):
            _file_data(client, app, filler, name=f"big{i}.png")
        small = _file_data(client, app, _small_png())
        answered = sum(_call(client, app, "predict", [small])[0] == 200 for _ in range(predictions))
        right_after = app.cache_mb()
        time.sleep(max(0.0, wait - (time.perf_counter() - start)))
        return {"uploads": uploads, "upload_mb": 19.5, "predictions_answered": answered, "cache_mb_right_after": round(right_after),
                "seconds_after_first_upload": round(time.perf_counter() - start), "cache_mb_then": round(app.cache_mb(), 1)}
    finally:
        app.close()


def public_figures(folder: Path) -> dict:
    import asyncio

    from gradio_client import Client
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    app = RunningApp(folder, **AS_ON_A_SPACE)
    try:
        api = Client(app.url, verbose=False).view_api(print_info=False, return_format="dict")

        async def tools():
            async with streamable_http_client(f"{app.url}/gradio_api/mcp/") as (read, write, _):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return sorted(tool.name for tool in (await session.list_tools()).tools)

        return {"named_endpoints": sorted(api["named_endpoints"]), "unnamed_endpoints": len(api["unnamed_endpoints"]), "mcp_tools": asyncio.run(tools())}
    finally:
        app.close()


PEOPLE_MEASUREMENTS = {"people": people_figures, "size": size_figures, "queue": queue_figures, "disk": disk_figures, "public": public_figures}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    figures: dict[str, dict] = {}
    folder = Path(tempfile.mkdtemp(prefix="digit-public-"))
    try:
        for name in args.only:
            part = folder / name
            part.mkdir()
            if name == "flags":
                figures[name] = flag_store_figures(args.stored)
            elif name == "memory":
                figures[name] = memory_figures(part, args.sessions)
            elif name == "cache":
                figures[name] = cache_figures(part, args.uploads)
            elif name == "fair":
                figures[name] = fairness_figures(part)
            else:
                figures[name] = PEOPLE_MEASUREMENTS[name](part)
            print(f"{name}: {json.dumps(figures[name])}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
