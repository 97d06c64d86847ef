"""CI: rnnviz as a user installs it. Builds the wheel, checks that it ships the dashboard, installs
it into a fresh virtual environment outside the checkout and runs it from an empty folder: the CLI's
--help and --version, ``import rnnviz``, a call of ``perturbation_importance`` whose answer is
known, and ``rnnviz app`` until Streamlit's health check answers. Every step is bounded in time.

Run from the checkout: ``python .ci/check_package.py``. Exits non-zero, saying which step failed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CALL = """
import numpy as np
import rnnviz

def predict(x):  # reads x1 and x2 at the same step, never x3
    return x[:, :, 0] + 2 * x[:, :, 1]

x = np.random.default_rng(0).random((40, 5, 3), dtype=np.float32)
scores = rnnviz.perturbation_importance(predict, x, sigma=0.1, n_repeats=2)
mean = scores.importances_mean
assert mean[2] == 0.0, mean  # x3 is never read: exactly no effect
assert mean[1] > mean[0] > 0, mean  # x2 counts twice as much as x1
print("perturbation_importance:", dict(zip(scores.feature_names, mean.round(3).tolist())))
"""


def step(title: str, cmd: list[str], cwd: Path, env: dict, timeout: float = 300) -> str:
    shown = " ".join(arg if len(arg) < 80 else "<code>" for arg in cmd)
    print(f"[package] {title}: {shown}", flush=True)
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        sys.exit(f"[package] FAILED {title} (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def check_wheel(wheel: Path) -> None:
    """The wheel holds every page, the app script and its settings, py.typed and the LICENSE."""
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f"rnnviz/ui/pages/{p.name}" for p in (ROOT / "rnnviz/ui/pages").glob("*.py")} | {
        "rnnviz/ui/script/app.py",
        "rnnviz/ui/script/.streamlit/config.toml",
        "rnnviz/ui/app.py",
        "rnnviz/py.typed",
    }
    missing = sorted(wanted - names)
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        missing.append("LICENSE")
    if len(wanted) < 7 or missing:
        sys.exit(f"[package] FAILED the wheel lacks: {', '.join(missing) or 'the pages'}")
    print(f"[package] {wheel.name}: {len(names)} files, every page and the app script", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_app(rnnviz: Path, cwd: Path, env: dict, timeout: float = 120) -> None:
    """``rnnviz app`` on a loopback port until /_stcore/health answers ok; then stopped."""
    port = free_port()
    cmd = [str(rnnviz), "app", "--server.port", str(port), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]  # fmt: skip
    print(f"[package] rnnviz app: {' '.join(cmd)}", flush=True)
    log = cwd / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                sys.exit(f"[package] FAILED rnnviz app exited ({proc.returncode}):\n"
                         f"{log.read_text()}")  # fmt: skip
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"[package] FAILED no health answer in {timeout:.0f} s:\n"
                         f"{log.read_text()}")  # fmt: skip
            time.sleep(0.3)
        print(f"[package] rnnviz app: {url} answered ok", flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    with tempfile.TemporaryDirectory(prefix="rnnviz-package-") as tmp:
        tmp = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        # built from a copy: setuptools leaves build/ and rnnviz.egg-info/ in the source folder
        source, wheels = tmp / "source", tmp / "wheels"
        skip = shutil.ignore_patterns(".git", "__pycache__", "build", "*.egg-info", ".*_cache")
        shutil.copytree(ROOT, source, ignore=skip)
        step("build the wheel", [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                                 "-w", str(wheels), str(source)], tmp, env)  # fmt: skip
        (wheel,) = wheels.glob("rnnviz-*.whl")
        check_wheel(wheel)

        # A fresh environment outside the checkout that still sees this machine's packages:
        # --system-site-packages lends it the installed TensorFlow, Keras, Streamlit, ... (about
        # 2 GB to download and unpack again otherwise). rnnviz itself lives only in the venv, and
        # pip installs with --no-index: every dependency must already be met by the pinned
        # versions, which checks that the wheel's ranges admit them.
        venv = tmp / "venv"
        step("create the venv", [sys.executable, "-m", "venv", "--system-site-packages",
                                 str(venv)], tmp, env)  # fmt: skip
        bindir = venv / ("Scripts" if os.name == "nt" else "bin")
        python = bindir / "python"
        step("install the wheel", [str(python), "-m", "pip", "install", "-q", "--no-index",
                                   f"{wheel}[app]"], tmp, env)  # fmt: skip

        work = tmp / "elsewhere"  # no checkout here: only the installed package can answer
        work.mkdir()
        rnnviz = bindir / "rnnviz"
        out = step("rnnviz --help", [str(rnnviz), "--help"], work, env, 120)
        if not out.startswith("usage: rnnviz ") or "rnnviz app" not in out:
            sys.exit(f"[package] FAILED rnnviz --help printed:\n{out}")
        out = step("rnnviz --version", [str(rnnviz), "--version"], work, env, 120)
        if out.strip() != f"rnnviz {version}":
            sys.exit(f"[package] FAILED rnnviz --version printed {out.strip()!r}, not {version}")
        code = "import rnnviz; print(rnnviz.__version__); print(rnnviz.__file__)"
        out = step("import rnnviz", [str(python), "-c", code], work, env, 120).split()
        if out[0] != version or not Path(out[1]).resolve().is_relative_to(venv.resolve()):
            sys.exit(f"[package] FAILED import rnnviz gave {out}: not the venv's {version}")
        print(f"[package] import rnnviz: {out[0]} from {out[1]}", flush=True)
        print(step("perturbation_importance", [str(python), "-c", CALL], work, env, 120), end="")
        serve_app(rnnviz, work, {**env, "RNNVIZ_CACHE_DIR": str(tmp / "cache")})
    print("[package] ok: the wheel installs and runs outside the checkout", flush=True)


if __name__ == "__main__":
    main()
