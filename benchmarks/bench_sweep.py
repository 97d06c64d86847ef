"""Sweep benchmark (run by hand): the same grid on 1 and on 2 worker processes, then again (all
done), and optionally on a Dask LocalCluster and against single runs of the command line.

    python benchmarks/bench_sweep.py                      # the goal's grid: 6 rule presets x
                                                          # 4 cells x 5 seeds (120 models)
    python benchmarks/bench_sweep.py --cells lstm --seeds 0-1   # a reduced grid
    python benchmarks/bench_sweep.py --dask --check 3     # + LocalCluster, + 3 configs alone

Goals (a 2-core machine with nothing else running): 2 workers finish >= 1.6x faster than 1; the
second run of the same sweep (everything done) takes <= 5% of the first; the tables of 1 and 2
workers (and of the cluster) hold identical numbers, and so does `python -m rnnviz --json` run on
a config alone (``--check N``: the first N experiments). Each run starts from an empty output
folder and model store (the second run reuses the 2-worker run's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import pandas as pd  # noqa: E402

from rnnviz.attr.comparison import METRICS  # noqa: E402
from rnnviz.rules import RULE_PRESETS  # noqa: E402
from rnnviz.sweep.grid import grid_tasks, parse_grid, parse_seeds  # noqa: E402
from rnnviz.sweep.run import run_sweep  # noqa: E402
from rnnviz.sweep.table import ResultsFile, grid_table  # noqa: E402
from rnnviz.sweep.work import NUMBERS  # noqa: E402


def numbers(table: pd.DataFrame) -> pd.DataFrame:
    return table[["experiment", "method", *NUMBERS, "error"]].reset_index(drop=True)


def timed_run(grid, folder: Path, **where) -> tuple[float, pd.DataFrame]:
    tasks = grid_tasks(grid, store=folder / "models")
    start = time.perf_counter()

    def tick(task, rows, done, todo):
        print(f"    {done}/{todo} {time.perf_counter() - start:6.1f} s", end="\r", flush=True)

    outcome = run_sweep(tasks, folder, on_done=tick, **where)
    seconds = time.perf_counter() - start
    print(f"    ran {outcome.ran}, lost {len(outcome.lost)}, failed {outcome.failed}" + " " * 20)
    return seconds, grid_table(ResultsFile(folder).read(), tasks)


def alone(task, folder: Path) -> dict:
    """``python -m rnnviz --json`` on ``task``'s config and methods: its truth and deletion
    scores per method."""
    settings = folder / f"{task.experiment}.json"
    settings.write_text(task.config.to_json())
    methods = ",".join(m for m in task.methods if m != "random")
    out = subprocess.run(
        [sys.executable, "-m", "rnnviz", "--config", str(settings), "--methods", methods, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rules", default=",".join(RULE_PRESETS))
    p.add_argument("--cells", default="lstm,gru,simple_rnn,bilstm")
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--methods", default="default")
    p.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE")
    p.add_argument("--dask", action="store_true", help="also on a 2-worker LocalCluster")
    p.add_argument("--check", type=int, default=0, help="compare N configs run alone")
    args = p.parse_args()
    grid = parse_grid(
        {
            "rules": args.rules.split(","),
            "cells": args.cells.split(","),
            "seeds": parse_seeds(args.seeds),
            "methods": args.methods.split(","),
            "config": dict(item.split("=", 1) for item in args.set),
        }
    )
    tasks = grid_tasks(grid)
    print(f"{len(tasks)} models x {len(tasks[0].methods)} methods, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="rnnviz-bench-sweep-") as tmp:
        tmp = Path(tmp)
        one, table1 = timed_run(grid, tmp / "w1", workers=1)
        print(f"1 worker:   {one:7.1f} s")
        two, table2 = timed_run(grid, tmp / "w2", workers=2)
        print(f"2 workers:  {two:7.1f} s  speed-up {one / two:.2f}x (goal >= 1.6x)")
        again, table3 = timed_run(grid, tmp / "w2", workers=2)
        print(f"second run: {again:7.1f} s  {again / two:.1%} of the first (goal <= 5%)")
        same = numbers(table1).equals(numbers(table2)) and numbers(table2).equals(numbers(table3))
        print(f"identical numbers, 1 vs 2 workers and the second run: {same}")
        if args.dask:
            from distributed import LocalCluster

            with LocalCluster(
                n_workers=2,
                processes=True,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster:
                seconds, table4 = timed_run(grid, tmp / "dask", scheduler=cluster.scheduler_address)
            print(f"LocalCluster (2 workers): {seconds:7.1f} s")
            print(f"identical numbers on the cluster: {numbers(table1).equals(numbers(table4))}")
        for task in grid_tasks(grid)[: args.check]:
            single = alone(task, tmp)
            rows = table2[table2["experiment"] == task.experiment].set_index("method")
            truth = single["truth_scores"]
            found = {(r["method"], k): r[k] for r in truth for k in METRICS if k in r}
            for method, curves in single["faithfulness"].items():
                found[(method, "deletion")] = curves["deletion_score"]
                found[(method, "insertion")] = curves["insertion_score"]
            agree = len(found) > 0
            for (method, metric), value in found.items():
                mine = rows.loc[method, metric]
                agree &= (value is None and pd.isna(mine)) or value == mine
            print(f"alone vs the sweep, {task.task} {task.cell} seed {task.seed}: {agree}")


if __name__ == "__main__":
    main()
