"""The draw loop in a real browser, as a person uses it, round after round on one page: draw a digit
or a number with the mouse -> the answer appears -> "Clear", a flag, "Correct!" or the canvas's own
trash button -> draw the next one. Optionally with other processes keeping every core busy.

    python scripts/draw_loop.py                  # starts `python app.py` on 127.0.0.1, 50 rounds
    python scripts/draw_loop.py --busy 2         # ... with two processes spinning beside it
    python scripts/draw_loop.py --url URL        # against an app already running

Each round checks what a person would see: the brush still chosen before drawing, the drawing's
answer naming what was drawn, no progress spinner left once the answer is there, and the page
reset after the round's action. Prints one line per round and, at the end, a JSON summary with the
answer latency, timed in the browser: from the last stroke's pointer-up to the answer on the page,
and from the page sending the event to the answer (the server's part, with the network).
Exits 1 at the first round that fails, naming it and the path of a screenshot of the page.

Needs requirements-dev.txt (Playwright) and Debian's chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]

#: What each round draws: strokes as polylines, in digit heights from the digit's centre (x right,
#: y down). Few points a stroke: the sketchpad redraws the whole stroke on every pointer move, which
#: headless chromium's software WebGL does slowly (about 0.4 s a move late in a long stroke).
SHAPES: dict[str, list[list[tuple[float, float]]]] = {
    "7": [[(-0.3, -0.5), (0.3, -0.5), (0.0, 0.0), (-0.1, 0.5)]],
    "1": [[(-0.15, -0.35), (0.0, -0.5), (0.0, 0.5)]],
    "4": [[(-0.1, -0.5), (-0.3, 0.1), (0.3, 0.1)], [(0.15, -0.25), (0.15, 0.5)]],
    "0": [[(0.32 * np.sin(a), -0.5 * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 13)]],
    "2": [[(-0.3, -0.3), (-0.1, -0.5), (0.2, -0.48), (0.3, -0.25), (-0.3, 0.5), (0.35, 0.5)]],
}
#: Round i draws NUMBERS[i % len]: digits side by side, a digit height apart centre to centre.
NUMBERS = ["7", "1", "4", "0", "2", "17", "40"]
#: Round i ends with ACTIONS[i % len].
ACTIONS = ["clear", "flag-wrong", "flag-correct", "trash"]
#: Gradio's progress overlay: its text and bar, shown only while an event runs.
SPINNER = ".progress-text, .eta-bar, .progress-bar"

TIMING_JS = """
() => {
  window.__loop = {up: 0, changes: [], sent: []};
  document.addEventListener('pointerup', () => { window.__loop.up = performance.now(); }, true);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      if (entry.name.includes('/queue/join')) window.__loop.sent.push(entry.startTime);
  }).observe({type: 'resource'});
  const message = document.querySelector('#message');
  new MutationObserver(() => window.__loop.changes.push([performance.now(), message.innerText]))
    .observe(message, {subtree: true, childList: true, characterData: true});
}
"""


def answer_pattern(number: str) -> re.Pattern:
    """What the page says once it has read ``number``: "It's a 7 ..." or "Read 17 ..."."""
    if len(number) == 1:
        return re.compile(rf"It's an? {number}\b")
    return re.compile(rf"Read {number}\b")


def draw(page, number: str, height: float = 200.0) -> None:
    """Draw ``number`` on the sketchpad with the mouse, centred, digits ``height`` pixels tall."""
    box = page.locator("#sketchpad canvas").first.bounding_box()
    cy = box["y"] + box["height"] / 2
    left = box["x"] + box["width"] / 2 - (len(number) - 1) * height / 2
    for place, digit in enumerate(number):
        cx = left + place * height
        for stroke in SHAPES[digit]:
            points = [(cx + x * height, cy + y * height) for x, y in stroke]
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*point)
            page.mouse.up()


def answer_latency_ms(page, pattern: re.Pattern) -> tuple[float | None, float | None]:
    """Milliseconds from the last pointer-up to the first answer on the page matching ``pattern``,
    and from the page sending the event that answered (its last queue join before the answer) to
    the answer: the rest is the sketchpad's own work in the browser (rendering the stroke, encoding
    its pictures as PNGs and uploading them)."""
    timing = page.evaluate("() => window.__loop")
    times = [t for t, text in timing["changes"] if t >= timing["up"] and pattern.search(text)]
    if not times:
        return None, None
    sent = [t for t in timing["sent"] if timing["up"] <= t <= times[0]]
    return round(times[0] - timing["up"], 1), (round(times[0] - sent[-1], 1) if sent else None)


def brush_chosen(page) -> bool:
    return "highlight" in (page.locator('#sketchpad button[aria-label="Brush"]').get_attribute("class") or "")


def end_round(page, action: str, number: str) -> None:
    """Do the round's action and wait until the page is ready for the next drawing."""
    from playwright.sync_api import expect

    if action == "clear":
        page.locator("#clear").click()
    elif action == "trash":
        page.locator('#sketchpad button[aria-label="Clear canvas"]').click()
    else:
        if action == "flag-wrong":
            page.locator("#correct-digit textarea, #correct-digit input").first.fill(number)
        page.locator(f"#{action}").click()
        expect(page.locator("#flag-status")).to_contain_text("Saved", timeout=30_000)
    expect(page.locator("#message")).to_contain_text("Draw a digit first", timeout=30_000)
    expect(page.locator("#label")).not_to_contain_text("%", timeout=5_000)


def run_rounds(browser, url: str, rounds: int, *, screenshot: Path | None = None, log=print) -> dict:
    """Run ``rounds`` rounds on one new page of ``browser`` (Playwright's) at ``url``. -> summary
    (latencies, rounds passed); raises AssertionError naming the round, what was drawn and what the
    page showed, at the first failure."""
    from playwright.sync_api import expect

    latencies, from_sent, durations = [], [], []
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    try:
        page.goto(url)
        page.wait_for_selector("#sketchpad canvas", timeout=60_000)
        page.evaluate(TIMING_JS)
        for round_ in range(rounds):
            number, action = NUMBERS[round_ % len(NUMBERS)], ACTIONS[round_ % len(ACTIONS)]
            start = time.perf_counter()
            try:
                expect(page.locator('#sketchpad button[aria-label="Brush"]')).to_have_class(re.compile("highlight"), timeout=15_000)
                draw(page, number)
                pattern = answer_pattern(number)
                expect(page.locator("#message")).to_have_text(pattern, timeout=30_000)
                latency, since_sent = answer_latency_ms(page, pattern)
                for overlay in ("#sketchpad", "#message", "#label"):
                    expect(page.locator(f"{overlay} :is({SPINNER})")).to_have_count(0, timeout=5_000)
                end_round(page, action, number)
            except AssertionError as exc:
                if screenshot is not None:
                    page.screenshot(path=str(screenshot))
                shown = page.locator("#message").inner_text()
                raise AssertionError(f"round {round_ + 1} ({number}, then {action}): {exc}\nthe page says: {shown!r}") from None
            latencies.append(latency)
            from_sent.append(since_sent)
            durations.append(time.perf_counter() - start)
            log(f"round {round_ + 1:2d}: drew {number:>2}, answered {latency} ms after the last stroke "
                f"({since_sent} ms after the page sent it), then {action}; {durations[-1]:.1f} s")
    finally:
        page.close()

    def spread(name: str, values: list) -> dict:
        values = [v for v in values if v is not None]
        if not values:
            return {}
        return {f"{name}_p50": round(float(np.percentile(values, 50))), f"{name}_p95": round(float(np.percentile(values, 95))),
                f"{name}_max": round(max(values))}

    return {
        "rounds": rounds,
        "passed": len(durations),
        **spread("answer_ms", latencies),
        **spread("answer_after_sent_ms", from_sent),
        "round_seconds_mean": round(float(np.mean(durations)), 2),
    }


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` processes that each keep one core busy for as long as the block runs."""
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for spinner in spinners:
        spinner.start()
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.terminate()
            spinner.join()


@contextmanager
def app_url(folder: Path) -> Iterator[str]:
    """``python app.py`` on 127.0.0.1 (a free port), flags going to ``folder`` with a rate limit
    that never bites in a loop of flags. Yields its URL once the page answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                   "GRADIO_TEMP_DIR": str(folder / "gradio-cache"), "DIGIT_FLAG_DIR": str(folder / "flags"),
                   "DIGIT_FLAG_BURST": "100000", "DIGIT_FLAGS_PER_MINUTE": "100000"}
    url = f"http://127.0.0.1:{port}"
    with open(folder / "app.log", "wb") as log:
        server = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=folder, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 120
            while not _answers(url):
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the app did not start within 120 s; see {folder / 'app.log'}")
                time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--busy", type=int, default=0, metavar="N", help="processes keeping N cores busy meanwhile")
    parser.add_argument("--url", help="an app already running (default: start one with the starter model)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch, busy_cores(args.busy), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        screenshot = Path(scratch) / "failed.png"
        try:
            if args.url:
                summary = run_rounds(browser, args.url, args.rounds, screenshot=screenshot)
            else:
                with app_url(Path(scratch)) as url:
                    summary = run_rounds(browser, url, args.rounds, screenshot=screenshot)
        except AssertionError as exc:
            kept = Path(tempfile.gettempdir()) / "draw_loop_failed.png"
            if screenshot.exists():
                kept.write_bytes(screenshot.read_bytes())
            print(f"FAILED {exc}\nscreenshot: {kept}", file=sys.stderr)
            return 1
    print(json.dumps({"busy_processes": args.busy, **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
