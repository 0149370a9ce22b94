"""End to end: the dashboard served by ``streamlit run`` and loaded in headless Chromium.

The browser is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``, stdlib
only): it waits until Streamlit has finished running the page, takes a screenshot and reads the
DOM, which must show the page and no error element. Everything stays on 127.0.0.1.

Skipped, with the reason, when Streamlit or Chromium is missing, except under CI (``CI`` set),
where a missing Chromium is a failure: ``make test`` installs it (Debian's ``chromium``).
Set ``MM_GYM_SCREENSHOTS=<dir>`` to keep the screenshots.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("streamlit", reason="streamlit is not installed: pip install -e '.[dashboard]'")


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM``, else ``chromium`` / ``chromium-browser`` on PATH."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def streamlit_server(env: dict[str, str], log: Path, timeout_s: float = 60.0) -> Iterator[str]:
    """Serve ``dashboard.py`` on a free local port; yields its URL; stops the server after."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}",
        "--browser.gatherUsageStats=false", "--server.fileWatcherType=none",
        "--global.developmentMode=false",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"streamlit exited with {proc.returncode}: {log.read_text()}"
                    )
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"streamlit did not start in {timeout_s} s: {log.read_text()}"
                    )
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4).

    Args:
        executable: The Chromium binary.
        profile: An empty folder for the browser profile.
        size: Window width and height, pixels.
    """

    def __init__(self, executable: str, profile: Path, size: tuple[int, int]) -> None:
        self._to_browser_r, self._to_browser_w = os.pipe()
        self._from_browser_r, self._from_browser_w = os.pipe()
        read_fd, write_fd = self._to_browser_r, self._from_browser_w

        def child_fds() -> None:  # Chromium reads commands on fd 3 and answers on fd 4
            r, w = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 10), fcntl.fcntl(write_fd, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)  # dup2 leaves the copies inheritable, so they survive the exec
            os.dup2(w, 4)

        args = [
            executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
            "--remote-debugging-pipe", f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}", "about:blank",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args,
            preexec_fn=child_fds,  # only dup2 before exec
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(self._to_browser_r)
        os.close(self._from_browser_w)
        self._buf = b""
        self._id = 0
        self.size = size
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._from_browser_r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False,
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:  # fmt: skip
        """Send one DevTools command and return its result."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_browser_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        return result.get("result", {}).get("value")

    def open(self, url: str, ready_js: str, timeout_s: float = 45.0) -> None:
        """Navigate to ``url`` and wait until ``ready_js`` is true twice in a row."""
        self.call("Page.navigate", {"url": url}, session=True)
        deadline = time.monotonic() + timeout_s
        hits = 0
        while hits < 2:
            if time.monotonic() > deadline:
                html = self.evaluate("document.body ? document.body.innerText : ''")
                raise TimeoutError(f"{url} not ready after {timeout_s} s; page text: {html!r}")
            time.sleep(0.5)
            hits = hits + 1 if self.evaluate(ready_js) else 0

    def wait(self, js: str, timeout_s: float = 30.0) -> None:
        """Poll until the expression ``js`` is true."""
        deadline = time.monotonic() + timeout_s
        while not self.evaluate(js):
            if time.monotonic() > deadline:
                text = self.evaluate("document.body ? document.body.innerText : ''")
                raise TimeoutError(f"{js!r} still false after {timeout_s} s; page text: {text!r}")
            time.sleep(0.25)

    def screenshot(self, path: Path) -> bytes:
        """Save a PNG of the window to ``path``; returns its bytes."""
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        png = base64.b64decode(data)
        path.write_bytes(png)
        return png

    def close(self) -> None:
        """Close the browser and the pipes."""
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout_s=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser_w)
        os.close(self._from_browser_r)


# The page is ready when Streamlit's script has run, its title is drawn and nothing is pending.
READY_JS = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return false;
  const state = app.getAttribute('data-test-script-state');
  const title = document.querySelector('h1');
  return state !== 'running' && state !== 'initial' && state !== 'rerunRequested'
    && title !== null && title.innerText.includes(%s);
})()"""

PAGES = {"live": "Live market", "results": "Results", "training": "Training"}


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        message = "chromium is not installed (apt-get install -y chromium; make test does it)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser test")
        pytest.skip(message)
    return path


def check_page(browser: Browser, page: str, shot: Path) -> str:
    """Screenshot the page and check it shows no error; returns the page's text."""
    png = browser.screenshot(shot)
    html = browser.evaluate("document.documentElement.outerHTML")
    text = browser.evaluate("document.body.innerText")
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000, page
    assert "stException" not in html, f"{page}: an exception is shown: {text[:2000]}"
    assert "Traceback" not in text, f"{page}: a traceback is shown: {text[:2000]}"
    assert 'data-testid="stAlertContentError"' not in html, f"{page}: {text[:2000]}"
    return text


CLICK_JS = """(() => {
  const b = [...document.querySelectorAll('button')].find(x => x.innerText.trim() === %s);
  if (!b || b.disabled) return false;
  b.click();
  return true;
})()"""

TAB_JS = """(() => {
  const t = [...document.querySelectorAll('[data-testid="stTab"]')]
    .find(x => x.innerText.trim() === %s);
  if (!t) return false;
  t.click();
  return true;
})()"""

# Text of the shown tab panel (hidden panels have no innerText).
VISIBLE_JS = "document.body.innerText.includes(%s)"

# Every chart of the shown tab outside expanders has been drawn by vega-embed (svg or canvas).
CHARTS_JS = """(() => {
  const panel = [...document.querySelectorAll('[data-testid="stTabPanel"]')]
    .find(p => p.offsetParent !== null);
  if (!panel) return false;
  const charts = [...panel.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .filter(c => !c.closest('[data-testid="stExpander"]'));  // expanders draw when opened
  return charts.length > 0 && charts.every(c => c.querySelector('canvas, svg'));
})()"""

RESULT_TABS = {
    "PnL attribution": "spread capture",
    "Equity curves": "mean over episodes of mm1's mark-to-market PnL",
    "Inventory": "mean over episodes of mm1's inventory",
}

STEP_JS = """(() => {
  const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
    .find(x => x.innerText.startsWith('Step'));
  return m ? parseInt(m.querySelector('[data-testid="stMetricValue"]').innerText) : -1;
})()"""


# The height of the headline feed's grid: the data frame in the row of the "Observed sentiment"
# metric (its cells are drawn on a canvas, so only the layout can be read from the DOM).
FEED_JS = """(() => {
  const rows = [...document.querySelectorAll('[data-testid="stHorizontalBlock"]')]
    .filter(r => r.innerText.includes('Observed sentiment'));
  const row = rows[rows.length - 1];
  const grid = row ? row.querySelector('[data-testid="stDataFrame"]') : null;
  return grid ? grid.getBoundingClientRect().height : -1;
})()"""


def test_dashboard_pages_render_in_chromium(
    chromium: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from mm_gym_dashboard.live import LiveMarket, LiveSettings
    from mm_gym_dashboard.samples import write_sample_export, write_sample_run

    LiveMarket(LiveSettings()).step(1)  # compile the kernels into numba's cache before serving

    exports, runs = tmp_path / "exports", tmp_path / "runs"
    write_sample_export(exports, episodes=6, steps=100)
    write_sample_run(runs, "ppo_a", points=20)
    write_sample_run(runs, "ppo_b_starting", points=0)  # no episode finished yet
    write_venue_export(exports / "venues")
    env = {**os.environ, "MM_GYM_EXPORTS": str(exports), "MM_GYM_RUNS": str(runs)}
    env["MM_GYM_CACHE"] = str(tmp_path_factory.getbasetemp() / "news_cache")  # headline bank
    shots = Path(os.environ.get("MM_GYM_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    with streamlit_server(env, tmp_path / "streamlit.log") as url:
        browser = Browser(chromium, tmp_path / "profile", (1400, 1400))
        try:
            for page, title in PAGES.items():
                query = "&runs=ppo_a,ppo_b_starting" if page == "training" else ""
                browser.open(f"{url}/?page={page}{query}", READY_JS % json.dumps(title))
                text = check_page(browser, page, shots / f"dashboard_{page}.png")
                assert title in text
                assert "Deploy" not in text, "the toolbar shows Streamlit's Deploy button"
                if page == "training":
                    assert "Run ppo_b_starting has not finished an episode yet" in text
            # The results tabs drawn from bands.csv and the attribution, one by one.
            browser.open(f"{url}/?page=results", READY_JS % json.dumps("Results"))
            for tab, wanted in RESULT_TABS.items():
                assert browser.evaluate(TAB_JS % json.dumps(tab)), tab
                browser.wait(VISIBLE_JS % json.dumps(wanted))
                browser.wait(READY_JS % json.dumps("Results"))
                browser.wait(CHARTS_JS)
                slug = tab.lower().replace(" ", "_")
                text = check_page(browser, tab, shots / f"dashboard_results_{slug}.png")
                assert wanted in text and "Regime" in text, text[:2000]
            check_venues_tab(browser, url, shots / "dashboard_results_venues.png")
            # Play in a real browser: the view refreshes by itself and the step count grows.
            browser.open(f"{url}/?page=live", READY_JS % json.dumps("Live market"))
            assert browser.evaluate(STEP_JS) == 0
            assert browser.evaluate(CLICK_JS % json.dumps("Play"))
            browser.wait(f"{STEP_JS} >= 15", timeout_s=30)
            assert browser.evaluate(CLICK_JS % json.dumps("Pause"))
            browser.wait(CLICK_JS.replace("b.click();", "") % json.dumps("Run to end"))
            assert browser.evaluate(CLICK_JS % json.dumps("Run to end"))
            browser.wait(f"{STEP_JS} === 1000", timeout_s=30)
            browser.wait(READY_JS % json.dumps("Live market"))
            text = check_page(browser, "live (played)", shots / "dashboard_live_played.png")
            assert "Observed sentiment" not in text  # no headline feed without a news model
            if importlib.util.find_spec("vaderSentiment") is not None:
                check_headline_feed(browser, url, shots / "dashboard_live_news.png")
        finally:
            browser.close()


def check_headline_feed(browser: Browser, url: str, shot: Path) -> None:
    """The live page with VADER headlines, run to its end: the feed and the sentiment beside it."""
    browser.open(f"{url}/?page=live&news=vader", READY_JS % json.dumps("Live market"))
    assert "No headline yet" in browser.evaluate("document.body.innerText")
    assert browser.evaluate(CLICK_JS % json.dumps("Run to end"))
    browser.wait(f"{STEP_JS} === 1000", timeout_s=30)
    browser.wait(READY_JS % json.dumps("Live market"))
    text = check_page(browser, "live (headlines)", shot)
    assert "Headlines (VADER headlines, newest first, up to 10)" in text
    assert "Observed sentiment" in text and "Latest score" in text
    assert browser.evaluate(FEED_JS) > 200  # 10 rows drawn (their text: tests/test_dashboard.py)


def write_venue_export(out: Path) -> None:
    """A real ``evaluate.py --env-id mm_gym/MultiVenue-v0`` export (two baselines, 2 x 60 steps)."""
    from helpers import load_script

    evaluate = load_script("evaluate.py", "evaluate_for_the_dashboard")
    argv = ["--env-id", "mm_gym/MultiVenue-v0", "--contestants", "routed_as,everywhere_as",
            "--regimes", "default", "--episodes", "2", "--horizon", "60", "--runs", "none",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert evaluate.main(argv) == 0
    assert (out / "venues.csv").is_file() and (out / "router.csv").is_file()


def check_venues_tab(browser: Browser, url: str, shot: Path) -> None:
    """The Results page of a multi-venue export: its Venues tab draws the venues' tables."""
    browser.open(f"{url}/?page=results&export=venues", READY_JS % json.dumps("Results"))
    assert browser.evaluate(TAB_JS % json.dumps("Venues"))
    browser.wait(VISIBLE_JS % json.dumps("(venues.csv)"))
    browser.wait(READY_JS % json.dumps("Results"))
    browser.wait(CHARTS_JS)
    text = check_page(browser, "Venues", shot)
    for wanted in ("(makers.csv)", "(venues.csv)", "(router.csv)", "routed_as", "everywhere_as"):
        assert wanted in text, (wanted, text[:2000])
    assert "No venues.csv" not in text
