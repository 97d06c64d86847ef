"""Test support shared by the app tests, the browser test and the benchmarks.

AppTest helpers (a tiny configuration, a private cache folder, page switching) and a runner for
`streamlit run app.py` on a free loopback port. Loopback only; Debian's /usr/bin/chromium is the
browser, launched with the flags that keep it off the (closed) network. Nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
PAGES = "rnnviz/ui/pages"
TIMEOUT = 120  # the first run of a process imports TensorFlow and trains

# A tiny configuration: trains in about a second (and is too small to learn, on purpose).
TINY = {
    "seq_len": "5",
    "n_train": "300",
    "n_val": "100",
    "n_score": "40",
    "epochs": "2",
    "n_repeats": "2",
}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"streamlit did not become healthy at {url}")


@contextlib.contextmanager
def running_app(log: Path, env: Mapping[str, str]) -> Iterator[tuple[str, subprocess.Popen]]:
    """The app served on 127.0.0.1:<free port>; yields (url, process); stops it afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false"]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


SETTING_VARS = (
    "RNNVIZ_HOSTED",
    "RNNVIZ_MAX_UPLOAD_MB",
    "RNNVIZ_UPLOADS",
    "RNNVIZ_MEMORY_LIMIT_MB",
    "RNNVIZ_WARM_PRESETS",
    "RNNVIZ_SWEEP_DIR",
)


# The worker (``rnnviz.ui.cache.worker``) outlives the modules: one per test session. A process
# keeps what it traced per architecture (a second training of one costs ~0.5 s against ~5 s), but
# the app's 200 MB budget replaces it after about every second architecture; this budget keeps
# it for the session's few dozen tiny architectures, still bounded. (The budget itself is
# tested with a Worker of its own in tests/test_jobs.py.)
TEST_WORKER_BUDGET_MB = "1500"


def private_cache(tmp_path_factory, env: Mapping[str, str] | None = None):
    """Generator for a module fixture: the app's caches in a fresh tmp folder (yielded), local
    settings unless ``env`` sets some, and cleared caches before and after the module. The
    preset experiments are not warmed (hosted mode would): tests train only what they ask."""
    from rnnviz.ui import cache

    folder = tmp_path_factory.mktemp("rnnviz_cache")
    mp = pytest.MonkeyPatch()
    for name in SETTING_VARS:
        mp.delenv(name, raising=False)
    defaults = {
        "RNNVIZ_CACHE_DIR": str(folder),
        "RNNVIZ_WARM_PRESETS": "0",
        "RNNVIZ_WORKER_BUDGET_MB": TEST_WORKER_BUDGET_MB,
    }
    for name, value in {**defaults, **(env or {})}.items():
        mp.setenv(name, value)
    cache.settings.clear()
    cache.model_store.clear()
    yield folder
    cache.settings.clear()
    cache.model_store.clear()
    mp.undo()


def make_app(params: Mapping[str, str] | None = None, page: str | None = None):
    """An AppTest of app.py with URL parameters, opened on ``page`` (a file name in PAGES)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(params or {})
    if page:  # before the first run, pages are matched by file name (= our url_path)
        at.switch_page(f"{PAGES}/{page}.py")
    return at


def go(at, page: str):
    return at.switch_page(f"{PAGES}/{page}.py").run()


def assert_clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at) -> list:
    return at.get("plotly_chart")


def shown(source: str) -> str:
    """Markdown source as read on screen: the backslash escapes that keep user text literal
    (``rnnviz.ui.text.md_escape``, e.g. in error messages) undone."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", source)
