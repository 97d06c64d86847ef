"""Methods benchmark (run by hand): every method on the reference configuration, timed, and
their ground-truth scores over several seeds of the reference and the lagged rules.

    python benchmarks/bench_methods.py                # 10 seeds, ~3 minutes on 2 cores
    python benchmarks/bench_methods.py --stepwise     # also backward elimination (F trainings)

Prints, per rule and method: mean time, mean feature ROC AUC, how many seeds ranked every true
feature above every irrelevant one (AUC = 1), and the mean lag-level AUP, AUR and AUPR.
The default method (perturbation) must reach AUC = 1 on >= 9 of 10 seeds.

    python benchmarks/bench_methods.py --page         # the Compare page's open time (AppTest)
    python benchmarks/bench_methods.py --page --query seed=1  # ... of another experiment
    python benchmarks/bench_methods.py --page --browser   # ... and in headless Chromium

``--page`` opens the Compare page of the default experiment in AppTest (in process, private
cache folder): once to import TensorFlow and train, then ``--repeats`` times as a visitor of a
server whose models are on disk but whose comparisons are not computed yet (model store and
data caches cleared: models read back from disk, every method run), and as a second visitor of
the same experiment (everything cached). ``--browser`` does the same against `streamlit run`
in Chromium: from opening the page until every chart is drawn and the app is idle.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from rnnviz.attr.registry import default_methods  # noqa: E402
from rnnviz.config import Config  # noqa: E402
from rnnviz.experiment import compare_methods  # noqa: E402
from rnnviz.training.fit import train  # noqa: E402


def fmt(values: list) -> str:
    vals = [v for v in values if v is not None and not np.isnan(v)]
    return f"{np.mean(vals):6.3f}" if vals else "     -"


def page_times(repeats: int, query: dict[str, str]) -> None:
    """Open time of the Compare page in AppTest (see the module docstring); ``query`` is the
    link's experiment (none: the default experiment)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["RNNVIZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="rnnviz-bench-")
    os.environ["RNNVIZ_WARM_PRESETS"] = "0"
    from rnnviz.ui import cache

    def open_page() -> tuple[float, AppTest]:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.query_params.update(query)
        at.switch_page("rnnviz/ui/pages/compare.py")
        start = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - start
        assert not at.exception, [e.value for e in at.exception]
        return seconds, at

    first, at = open_page()
    shown = ", ".join(at.table[0].value["method"]) if at.table else "no table"
    print(f"first open (imports TensorFlow, trains): {first:.2f} s")
    print(f"methods shown: {shown}; charts: {len(at.get('plotly_chart'))}")
    fresh, cached = [], []
    for _ in range(repeats):
        cache.model_store.clear()  # models read back from disk, as after a restart
        st.cache_data.clear()  # every method runs again
        fresh.append(open_page()[0])
        cached.append(open_page()[0])
    print(f"open, models on disk, methods run:   {_stats(fresh)}")
    print(f"open, same experiment again (cached): {_stats(cached)}")


def browser_times(repeats: int, query: dict[str, str]) -> None:
    """Open time of the Compare page in headless Chromium against `streamlit run app.py`."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "tests"))
    from apptools import CHART, CHROMIUM, CHROMIUM_ARGS, running_app

    idle = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"

    def visit(browser, url: str) -> float:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        start = time.perf_counter()
        page.goto(f"{url}/compare?{urlencode(query)}")
        page.locator(CHART).first.wait_for(timeout=600_000)
        page.wait_for_function(idle, timeout=600_000)
        seconds = time.perf_counter() - start
        context.close()
        return seconds

    folder = Path(tempfile.mkdtemp(prefix="rnnviz-bench-"))
    env = {"RNNVIZ_CACHE_DIR": str(folder / "cache"), "RNNVIZ_WARM_PRESETS": "0"}
    restarted, again = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for run in range(repeats + 1):  # run 0 trains; later runs start a new server
                with running_app(folder / f"server{run}.log", env) as (url, _proc):
                    seconds = visit(browser, url)
                    if run == 0:
                        print(f"browser, first open (trains): {seconds:.2f} s")
                    else:
                        restarted.append(seconds)
                        again.append(visit(browser, url))
        finally:
            browser.close()
    print(f"browser, new server, models on disk: {_stats(restarted)}")
    print(f"browser, a second visitor (cached):  {_stats(again)}")


def _stats(values: list[float]) -> str:
    return f"median {np.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--stepwise", action="store_true")
    ap.add_argument("--page", action="store_true", help="time the Compare page instead")
    ap.add_argument("--browser", action="store_true", help="with --page: also in Chromium")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--query", default="", help="with --page: the link's knobs, e.g. seed=1")
    args = ap.parse_args()
    if args.page:
        query = dict(kv.split("=", 1) for kv in args.query.split("&") if kv)
        print(f"Compare page of {query or 'the default experiment'}")
        page_times(args.repeats, query)
        if args.browser:
            browser_times(args.repeats, query)
        return
    methods = (*default_methods(), "sigma_sweep", "tsr:perturbation") + (
        ("stepwise",) if args.stepwise else ()
    )
    for rule in ("reference", "lagged"):
        rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        learned = 0
        for seed in range(args.seeds):
            cfg = Config(rule=rule, seed=seed)
            result = train(cfg)
            learned += result.learned
            comp = compare_methods(result, cfg, methods)
            for row in comp.rows():
                for key in ("seconds", "feature_auc", "aup", "aur", "aupr"):
                    rows[row["method"]][key].append(row.get(key))
        print(
            f"\nrule {rule!r}: {Config(rule=rule).target().expression}; model learned on "
            f"{learned} of {args.seeds} seeds"
        )
        print(
            f"{'method':22} {'time s':>7} {'AUC':>6} {'AUC=1':>6} {'AUP':>6} {'AUR':>6} {'AUPR':>6}"
        )
        for name, r in rows.items():
            perfect = sum(1 for v in r["feature_auc"] if v is not None and v >= 1.0)
            print(
                f"{name:22} {np.mean(r['seconds']):7.3f} {fmt(r['feature_auc'])} "
                f"{perfect:>3}/{args.seeds:<2} {fmt(r['aup'])} {fmt(r['aur'])} {fmt(r['aupr'])}"
            )


if __name__ == "__main__":
    main()
