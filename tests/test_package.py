"""The package as users get it: the lazy public API, the version, the doctest of the method, the
dashboard's files found from the package (not the working directory), and ``rnnviz app``."""

from __future__ import annotations

import doctest
import filecmp
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import rnnviz

ROOT = Path(__file__).resolve().parents[1]
API = {
    "Config",
    "run",
    "train",
    "explain",
    "compare_methods",
    "perturbation_importance",
    "Predictor",
    "Attribution",
    "__version__",
}


def _python(code: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_import_loads_no_tensorflow(tmp_path):
    out = _python(
        "import sys, rnnviz\n"
        "rnnviz.Config, rnnviz.perturbation_importance, rnnviz.Attribution, rnnviz.explain\n"
        "rnnviz.run, rnnviz.compare_methods\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras'}))",
        tmp_path,
    )
    assert out.strip() == "[]"


def test_the_api_is_listed_and_each_name_resolves():
    from rnnviz import experiment
    from rnnviz.attr.attribution import Attribution
    from rnnviz.attr.scoring import perturbation_importance
    from rnnviz.config import Config

    assert set(dir(rnnviz)) == API == set(rnnviz.__all__)
    assert rnnviz.Config is Config and rnnviz.Attribution is Attribution
    assert rnnviz.perturbation_importance is perturbation_importance
    assert rnnviz.run is experiment.run and rnnviz.compare_methods is experiment.compare_methods
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rnnviz.nope  # noqa: B018


def test_explain_is_the_pipeline_s_function_and_the_methods_room_is_attr():
    import rnnviz.attr.scoring
    from rnnviz import experiment

    assert rnnviz.attr.scoring.perturbation_importance is rnnviz.perturbation_importance
    assert rnnviz.explain is experiment.explain


def test_the_version_is_the_package_s():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert rnnviz.__version__ == declared


def test_the_doctest_of_perturbation_importance_runs():
    import rnnviz.attr.scoring as scoring

    finder = doctest.DocTestFinder()
    (test,) = [t for t in finder.find(scoring) if t.name.endswith(".perturbation_importance")]
    assert len(test.examples) >= 5
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))


def test_the_packaged_app_has_the_checkout_s_streamlit_settings():
    packaged = ROOT / "rnnviz/ui/script/.streamlit/config.toml"
    assert filecmp.cmp(ROOT / ".streamlit/config.toml", packaged, shallow=False)


def test_page_paths_do_not_depend_on_the_working_directory():
    from rnnviz.ui import app, components

    for page, *_ in components.PAGES:
        assert Path(page).is_absolute() and Path(page).is_file()
    script = Path(app.__file__).parent / "script" / "app.py"
    assert script.is_file() and not (script.parent / "pages").exists()  # see rnnviz.ui.app


@pytest.mark.server
def test_rnnviz_app_serves_the_dashboard_from_another_folder(tmp_path):
    from apptools import free_port, wait_healthy

    port = free_port()
    cmd = [sys.executable, "-m", "rnnviz", "app", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RNNVIZ_CACHE_DIR": str(tmp_path / "cache")}
    log = (tmp_path / "log").open("w")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert "Traceback" not in (tmp_path / "log").read_text()
