"""The draw loop in a real browser, as a person uses it, round after round on one page: draw a real
pen digit or number with the mouse -> the answer appears -> "Clear", a flag, "Correct!" or the
canvas's own trash button -> draw the next one. Optionally with other processes keeping cores busy.

    python scripts/draw_loop.py                  # starts `python app.py` on 127.0.0.1, 50 rounds
    python scripts/draw_loop.py --busy 0 2       # idle, then with two processes spinning beside it
    python scripts/draw_loop.py --url URL        # against an app already running

What is drawn: UNIPEN pen digits of the writers no model trains on (``../shared/real``), one digit or
two side by side, their strokes replayed with the mouse. Each round checks what a person would see:
the brush still chosen before drawing, an answer for the drawing as it ends (the page knows which
drawing each answer is for: ``#ink`` holds its sequence number), no progress spinner left, and the
page reset after the round's action. Prints one line per round and, per ``--busy`` value, a JSON
summary: the answer latency timed in the browser, from the last stroke's pointer-up to the answer for
the finished drawing on the page (p50/p95/max), how many answers named what was drawn, and how many
were stale (an answer for an older drawing shown after a newer one's, or any answer shown after
Clear or a flag before the next stroke). Exits 1 when a round fails (no answer within ``--within``
seconds, a stale answer, a page not reset), naming it and the path of a screenshot of the page.

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
PEN_FILE = ROOT.parent / "shared" / "real" / "unipen_dev.npz"

#: Round i draws a number of DIGIT_COUNTS[i % len] pen digits.
DIGIT_COUNTS = [1, 1, 2, 1, 1, 2, 1]
#: Round i ends with ACTIONS[i % len].
ACTIONS = ["clear", "flag-wrong", "flag-correct", "trash"]
#: Gradio's progress overlay: its text and bar, shown only while an event runs.
SPINNER = ".progress-text, .eta-bar, .progress-bar"
#: Points a stroke is replayed with: the sketchpad redraws on every pointer move, which headless
#: chromium's software WebGL does slowly; a pen trajectory's 30-100 points are thinned to these.
POINTS_PER_STROKE = 10
#: What the page says once it has read a drawing: a digit, a number, not sure, or not a digit.
ANSWERED = re.compile(r"It's an? \*?\*?\d|Read \d|Not sure|look like a digit|looks like a digit|Could not read")

#: Records, every 10 ms, the answer shown and which drawing it is for (``#ink``'s seq), and the
#: time of the last pointer-up.
TIMING_JS = """
() => {
  const loop = window.__loop = {up: 0, shown: []};
  document.addEventListener('pointerup', () => { loop.up = performance.now(); }, true);
  let last = '';
  setInterval(() => {
    const box = document.querySelector('#ink textarea, #ink input');
    let seq = -1;
    try { seq = JSON.parse(box && box.value || '{}').seq ?? -1; } catch (e) {}
    const text = document.querySelector('#message').innerText;
    const key = seq + '|' + text;
    if (key !== last) { last = key; loop.shown.push([performance.now(), seq, text]); }
  }, 10);
}
"""


def pen_rounds(rounds: int, *, seed: int = 0) -> list[list[tuple[int, list[np.ndarray]]]]:
    """What each round draws: a list of (label, strokes) pen digits of held-out writers."""
    from digit_core.real_data import UNIPEN_HELD_OUT_SITES, load_pen_digits

    pen = load_pen_digits(PEN_FILE)
    held = np.flatnonzero(np.isin(pen.sources, UNIPEN_HELD_OUT_SITES))
    rng = np.random.default_rng(seed)
    chosen = []
    for round_ in range(rounds):
        picks = rng.choice(held, DIGIT_COUNTS[round_ % len(DIGIT_COUNTS)], replace=False)
        chosen.append([(int(pen.labels[i]), pen.strokes(int(i))) for i in picks])
    return chosen


def draw(page, digits: list[tuple[int, list[np.ndarray]]]) -> None:
    """Replay pen digits with the mouse on the sketchpad's canvas, side by side, each about half the
    canvas tall."""
    area = page.evaluate("() => window.digitInk.imageRect()")
    size = min(area["right"] - area["left"], area["bottom"] - area["top"])
    height = 0.5 * size if len(digits) == 1 else 0.38 * size
    cx, cy = (area["left"] + area["right"]) / 2, (area["top"] + area["bottom"]) / 2
    left = cx - (len(digits) - 1) * 0.45 * height
    for place, (_, strokes) in enumerate(digits):
        points = np.concatenate(strokes)
        low, high = points.min(axis=0), points.max(axis=0)
        scale = height / max(high[1] - low[1], 1.0)
        middle = (low + high) / 2
        for stroke in strokes:
            keep = np.unique(np.linspace(0, len(stroke) - 1, min(len(stroke), POINTS_PER_STROKE)).round().astype(int))
            xy = [(left + place * 0.9 * height + (x - middle[0]) * scale, cy + (y - middle[1]) * scale) for x, y in stroke[keep]]
            page.mouse.move(*xy[0])
            page.mouse.down()
            for point in xy[1:]:
                page.mouse.move(*point)
            page.mouse.up()


def answer_for_latest(page, within: float) -> tuple[float, str, float]:
    """Wait for the answer for the drawing as it is now -> (ms from the last pointer-up to it, its
    text, ms from the page taking the payload to it: the server's part with the network). Raises
    AssertionError when none comes within ``within`` seconds."""
    deadline = time.perf_counter() + within + 1
    wanted = None
    while time.perf_counter() < deadline:
        state = page.evaluate("() => ({loop: window.__loop, ink: window.digitInk.seq, dirty: window.digitInk.dirty, "
                              "sent: window.digitInk.sentAt})")
        if wanted is None and not state["dirty"] and state["ink"] > 0:
            wanted = state["ink"]  # the payload sent after the last stroke
        if wanted is not None:
            for when, seq, text in state["loop"]["shown"]:
                if seq >= wanted and when >= state["loop"]["up"] and ANSWERED.search(text):
                    return round(when - state["loop"]["up"], 1), text, round(when - state["sent"], 1)
        time.sleep(0.1)  # the page times the answer itself: polling seldom leaves the CPU to the app
    raise AssertionError(f"no answer for the drawing within {within} s (the page's seq {state['ink']}, "
                         f"{'changed since' if state['dirty'] else 'sent'}; last shown: {state['loop']['shown'][-3:]})")


def stale_shown(page) -> list[str]:
    """Answers shown out of turn so far: for an older drawing after a newer one's."""
    shown = page.evaluate("() => window.__loop.shown")
    newest, stale = -1, []
    for _, seq, text in shown:
        if 0 <= seq < newest:
            stale.append(f"seq {seq} after {newest}: {text!r}")
        newest = max(newest, seq)
    return stale


def end_round(page, action: str, answer: str) -> None:
    """Do the round's action and wait until the page is ready for the next drawing."""
    from playwright.sync_api import expect

    if action == "clear":
        page.locator("#clear").click()
    elif action == "trash":
        page.locator('#sketchpad button[aria-label="Clear canvas"]').click()
    else:
        if action == "flag-wrong":
            page.locator("#correct-digit textarea, #correct-digit input").first.fill(answer)
        page.locator(f"#{action}").click()
        expect(page.locator("#flag-status")).to_contain_text("Saved", timeout=30_000)
    expect(page.locator("#message")).to_contain_text("Draw a digit first", timeout=30_000)
    expect(page.locator("#label")).not_to_contain_text("%", timeout=5_000)


def _nothing_reappears(page, settle: float) -> None:
    """After the page is reset, nothing from before comes back (watched for ``settle`` seconds)."""
    time.sleep(settle)
    text = page.locator("#message").inner_text()
    assert "Draw a digit first" in text, f"an answer reappeared after the reset: {text!r}"


def run_rounds(browser, url: str, rounds: int, *, page=None, within: float = 5.0, settle: float = 0.3,
               screenshot: Path | None = None, log=print, seed: int = 0) -> dict:
    """Run ``rounds`` rounds on one page (``page``, or a new page of ``browser`` at ``url``).
    -> summary; raises AssertionError naming the round, what was drawn and what the page showed, at
    the first failure."""
    from playwright.sync_api import expect

    own = page is None
    if own:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(url)
        page.wait_for_selector("#sketchpad canvas", timeout=60_000)
    page.evaluate(TIMING_JS)
    latencies, from_sent, right, durations = [], [], 0, []
    try:
        for round_, digits in enumerate(pen_rounds(rounds, seed=seed)):
            number, action = "".join(str(label) for label, _ in digits), ACTIONS[round_ % len(ACTIONS)]
            start = time.perf_counter()
            try:
                expect(page.locator('#sketchpad button[aria-label="Brush"]')).to_have_class(re.compile("highlight"), timeout=15_000)
                draw(page, digits)
                latency, text, since_sent = answer_for_latest(page, within)
                assert latency <= within * 1000, f"answered {latency:.0f} ms after the last stroke: over {within} s"
                for overlay in ("#sketchpad", "#message", "#label"):
                    expect(page.locator(f"{overlay} :is({SPINNER})")).to_have_count(0, timeout=5_000)
                read = re.search(r"\d+", text.split("Read")[-1] if "Read" in text else text.split("It's")[-1])
                right += bool(read) and read.group() == number and "Not sure" not in text
                end_round(page, action, number)
                _nothing_reappears(page, settle)
                stale = stale_shown(page)
                assert not stale, f"stale answers: {stale}"
            except AssertionError as exc:
                if screenshot is not None:
                    page.screenshot(path=str(screenshot))
                shown = page.locator("#message").inner_text()
                raise AssertionError(f"round {round_ + 1} ({number}, then {action}): {exc}\nthe page says: {shown!r}") from None
            latencies.append(latency)
            from_sent.append(since_sent)
            durations.append(time.perf_counter() - start)
            log(f"round {round_ + 1:2d}: drew {number:>2}, answered {latency} ms after the last stroke "
                f"({since_sent} ms after the page sent it): {text!r}; "
                f"then {action}; {durations[-1]:.1f} s")
    finally:
        if own:
            page.close()
    return {
        "rounds": rounds,
        "passed": len(durations),
        "read_right": right,
        "stale": 0,
        "answer_ms_p50": round(float(np.percentile(latencies, 50))),
        "answer_ms_p95": round(float(np.percentile(latencies, 95))),
        "answer_ms_max": round(max(latencies)),
        "answer_after_sent_ms_p50": round(float(np.percentile(from_sent, 50))),
        "answer_after_sent_ms_p95": round(float(np.percentile(from_sent, 95))),
        "round_seconds_mean": round(float(np.mean(durations)), 2),
    }


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` processes that each keep one core busy for as long as the block runs. Fresh
    interpreters (spawn): a fork of a process serving the app in its threads (the tests') froze the
    app's reading in the parent."""
    spawn = multiprocessing.get_context("spawn")
    spinners = [spawn.Process(target=_spin, daemon=True) for _ in range(count)]
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


def _load() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--busy", type=int, nargs="+", default=[0], metavar="N",
                        help="processes keeping N cores busy meanwhile; several values run one after another (e.g. 0 2)")
    parser.add_argument("--within", type=float, default=5.0, help="seconds an answer may take (default 5)")
    parser.add_argument("--url", help="an app already running (default: start one with the starter model)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        screenshot = Path(scratch) / "failed.png"
        with app_url(Path(scratch)) if not args.url else _given(args.url) as url:
            for busy in args.busy:
                before = _load()
                try:
                    with busy_cores(busy):
                        summary = run_rounds(browser, url, args.rounds, within=args.within, screenshot=screenshot)
                except AssertionError as exc:
                    kept = Path(tempfile.gettempdir()) / "draw_loop_failed.png"
                    if screenshot.exists():
                        kept.write_bytes(screenshot.read_bytes())
                    print(f"FAILED (busy {busy}) {exc}\nscreenshot: {kept}", file=sys.stderr)
                    return 1
                print(json.dumps({"busy_processes": busy, "load_before": before, "load_after": _load(), **summary}), flush=True)
    return 0


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    sys.exit(main())
