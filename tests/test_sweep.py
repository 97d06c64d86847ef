"""Sweeps: the grid and its errors, the results file (resume, torn lines), the store's
cross-process lock, and the same numbers in this process, a process pool (with a worker that
dies) and a real Dask LocalCluster."""

from __future__ import annotations

import math
import multiprocessing as mp
import subprocess
import sys

import pandas as pd
import pytest

from rnnviz.config import Config
from rnnviz.sweep.command import sweep_main
from rnnviz.sweep.grid import GridError, grid_tasks, load_grid, parse_grid, parse_seeds
from rnnviz.sweep.run import run_sweep
from rnnviz.sweep.table import ResultsFile, grid_table, summarise
from rnnviz.sweep.work import COLUMNS, NUMBERS, base_row

import sweep_hooks

TINY = {"seq_len": 5, "n_train": 300, "n_val": 100, "n_score": 40, "epochs": 2, "n_repeats": 2}
METHODS = ["perturbation", "ablation"]
# Two models that train, and a rule that parses but labels every step 0: it fails in training.
GRID = {"rules": ["threshold", "x1 > 1.5"], "seeds": [0, 1], "methods": METHODS, "config": TINY}
UNLEARNABLE = "rule:x1 > 1.5"


# --------------------------------------------------------------------------- the grid


def test_a_grid_crosses_tasks_cells_and_seeds_and_ends_the_methods_with_random():
    grid = parse_grid(
        {
            "presets": ["memory-lstm"],
            "rules": ["lagged", "lagged"],  # the same rule twice: one experiment each
            "cells": ["lstm", "gru"],
            "seeds": [0, 1, 2],
            "methods": ["saliency", "random", "perturbation"],
            "config": {"epochs": 1},
        }
    )
    tasks = grid_tasks(grid, store="/models")
    assert len(tasks) == 2 * 2 * 3  # memory-lstm and lagged (twice) x cells x seeds
    assert [t.task for t in tasks[:6]] == ["preset:memory-lstm"] * 6
    assert [(t.cell, t.seed) for t in tasks[:3]] == [("lstm", 0), ("lstm", 1), ("lstm", 2)]
    assert tasks[0].config == Config(rule="x1[t-8] > 0.5", seq_len=20, epochs=1)
    assert all(t.config.epochs == 1 and t.store == "/models" for t in tasks)
    assert tasks[0].methods == ("saliency", "perturbation", "random")
    assert len({t.experiment for t in tasks}) == len(tasks)


def test_default_methods_and_seeds():
    (task,) = grid_tasks(parse_grid({"series": ["seattle-weather:temp_max"]}))
    assert task.config.dataset == "seattle-weather" and task.config.outcome == "temp_max"
    assert task.seed == 0 and task.methods[0] == "perturbation" and task.methods[-1] == "random"
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]


@pytest.mark.parametrize(
    "grid, named",
    [
        ({"presets": ["nope"]}, "presets[0] = 'nope' is not a preset; one of default"),
        ({"rules": ["lagged", "x1 > > 2"]}, "rules[1] = 'x1 > > 2': unexpected '>'"),
        ({"rules": ["x5 > 0.5"]}, "rules[0] = 'x5 > 0.5': x5 does not exist"),
        ({"rules": ["lagged"], "config": {"epochs": 0}}, "epochs = 0 is not allowed"),
        ({"rules": ["lagged"], "config": {"seed": 3}}, "config.seed: set by the grid's 'seeds'"),
        ({"rules": ["lagged"], "cells": ["lsmt"]}, "cells[0] = 'lsmt' is not a cell"),
        ({"rules": ["lagged"], "seeds": [0, -1]}, "seeds[1] = -1: a whole number"),
        ({"rules": ["lagged"], "methods": ["nope"]}, "methods[0] = 'nope': unknown method"),
        ({"series": ["seattle-weather:rainfall"]}, "series[0] = 'seattle-weather:rainfall'"),
        ({"rule": ["lagged"]}, "'rule' is not a grid entry"),
        ({"seeds": [0]}, "the grid names no experiment"),
    ],
)
def test_a_bad_grid_is_refused_naming_the_entry(grid, named):
    with pytest.raises(GridError) as info:
        parse_grid(grid)
    assert named in str(info.value)


def test_a_rule_error_keeps_its_caret(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('rules = ["lagged", "x1 > > 2"]\n')
    with pytest.raises(GridError) as info:
        load_grid(path)
    lines = str(info.value).splitlines()
    assert lines[0].startswith(f"{path}: rules[1]")
    assert lines[1:] == ["  x1 > > 2", "       ^"]  # under the second '>'
    path.write_text('rules = ["lagged"\n')
    with pytest.raises(GridError, match="not valid TOML"):
        load_grid(path)


def test_the_command_exits_2_on_a_bad_grid_before_anything_runs(tmp_path, capsys):
    assert sweep_main(["--rule", "lagged", "--set", "epochs=0", "--out", str(tmp_path)]) == 2
    assert "epochs = 0 is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "results.csv").exists()


def test_the_sweep_s_own_process_loads_no_tensorflow():
    # the workers train; the process that plans, records and summarises stays light
    code = (
        "import sys, rnnviz.sweep.command, rnnviz.sweep.run; "
        "print(sorted({'tensorflow', 'keras', 'distributed'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the results file


def _rows(task, values):
    return [{**base_row(task, m), "lag_auc": v} for m, v in zip(task.methods, values, strict=True)]


def test_a_torn_last_line_is_dropped_and_the_latest_row_of_a_pair_wins(tmp_path):
    a, b = grid_tasks(parse_grid({**GRID, "rules": ["threshold"]}))
    results = ResultsFile(tmp_path)
    results.append(_rows(a, [0.1, 0.2, 0.3]))
    results.append(_rows(b, [0.4, 0.5, 0.6]))
    whole = results.path.read_bytes()
    results.path.write_bytes(whole[:-40])  # killed while writing b's rows
    assert results.finished() == {(a.experiment, m) for m in a.methods} | {
        (b.experiment, m) for m in b.methods[:2]
    }
    results.append(_rows(b, [0.7, 0.8, 0.9]))  # the rerun's rows
    table = results.read()
    assert list(table.columns) == list(COLUMNS)
    assert results.path.read_bytes().count(b"\n") == 1 + 3 + 2 + 3
    assert table.set_index(["experiment", "method"])["lag_auc"].to_dict() == {
        **{(a.experiment, m): v for m, v in zip(a.methods, [0.1, 0.2, 0.3], strict=True)},
        **{(b.experiment, m): v for m, v in zip(b.methods, [0.7, 0.8, 0.9], strict=True)},
    }


def test_the_summary_gives_median_and_quartiles_over_seeds():
    tasks = grid_tasks(parse_grid({**GRID, "rules": ["threshold"], "seeds": [0, 1, 2, 3]}))
    rows = [r for t, v in zip(tasks, [1.0, 2.0, 4.0, 10.0], strict=True) for r in _rows(t, [v] * 3)]
    rows[-1]["error"] = "failed"  # the last seed's random row
    summary = summarise(grid_table(pd.DataFrame(rows), tasks)).set_index("method")
    perturbation = summary.loc["perturbation"]
    assert perturbation["n"] == 4 and perturbation["errors"] == 0
    assert perturbation["lag_auc_median"] == 3.0  # (2 + 4) / 2
    assert perturbation["lag_auc_q25"] == 1.75 and perturbation["lag_auc_q75"] == 5.5
    assert summary.loc["random", "n"] == 3 and summary.loc["random", "errors"] == 1
    assert summary.loc["random", "lag_auc_median"] == 2.0
    assert math.isnan(perturbation["deletion_median"])


# --------------------------------------------------------------------------- the store's lock


def test_two_processes_never_train_one_config_at_once(tmp_path):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    log = tmp_path / "log"
    config = Config(**TINY).to_json()
    args = (str(tmp_path / "models"), str(log), config, barrier)
    procs = [ctx.Process(target=sweep_hooks.train_in_store, args=args) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    events = log.read_text().split()[::2]
    pids = log.read_text().split()[1::2]
    # each training ran alone: start, end, start, end (both trained: the fake keeps nothing)
    assert events == ["start", "end", "start", "end"]
    assert pids[0] == pids[1] and pids[2] == pids[3] and pids[0] != pids[2]


# --------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The grid run in this process: (its tasks, its table)."""
    out = tmp_path_factory.mktemp("inline")
    tasks = grid_tasks(parse_grid(GRID), store=out / "models")
    outcome = run_sweep(tasks, out, workers=0)
    assert (outcome.ran, outcome.skipped, outcome.failed, outcome.lost) == (4, 0, 2, [])
    return tasks, grid_table(ResultsFile(out).read(), tasks), out


def _numbers(table: pd.DataFrame) -> pd.DataFrame:
    return table[["experiment", "method", *NUMBERS, "error"]].reset_index(drop=True)


def test_a_failing_experiment_is_rows_with_its_error(reference):
    _, table, _ = reference
    failed = table[table["task"] == UNLEARNABLE]
    assert len(failed) == 2 * 3  # two seeds, three methods each
    assert failed["error"].str.startswith("DataError: the rule labels only 0.0%").all()
    assert failed[list(NUMBERS)].isna().all().all()
    ok = table[table["task"] != UNLEARNABLE]
    assert (ok["error"] == "").all() and ok["lag_auc"].notna().all()
    assert ok["deletion"].notna().all() and (ok["seconds"] >= 0).all()


def test_a_rerun_runs_only_what_is_missing(reference, tmp_path):
    tasks, table, out = reference
    again = run_sweep(tasks, out, workers=0)
    assert (again.ran, again.skipped) == (0, 4)
    # a method added to the grid: only its rows run, on the models kept in the store
    grid = parse_grid({**GRID, "methods": [*METHODS, "permutation"]})
    more = grid_tasks(grid, store=out / "models")
    added = run_sweep(more, out, workers=0)
    assert (added.ran, added.skipped) == (4, 0)
    wider = grid_table(ResultsFile(out).read(), more)
    assert len(wider) == 4 * 4
    ok = wider[wider["task"] != UNLEARNABLE]
    assert ok.loc[ok["method"] == "permutation", "cached"].all()  # no model trained again
    pd.testing.assert_frame_equal(
        _numbers(wider[wider["method"] != "permutation"]), _numbers(table)
    )


def test_a_killed_worker_loses_no_finished_row_and_the_rerun_does_only_the_rest(
    reference, tmp_path
):
    tasks, table, _ = reference
    tasks = grid_tasks(parse_grid(GRID), store=tmp_path / "models")  # trained anew
    # one worker, tasks in grid order: threshold seed 0 finishes, then seed 1 kills its
    # process; the tasks queued behind it did not run either
    first = run_sweep(tasks, tmp_path, workers=1, retries=0, runner=sweep_hooks.die_on_seed_1)
    assert (first.ran, len(first.lost)) == (1, 3)
    assert [(t.task, t.seed) for t in first.lost][0] == ("rule:threshold", 1)
    done = ResultsFile(tmp_path).read()
    assert len(done) == 3 and set(done["experiment"]) == {tasks[0].experiment}
    # the rerun, on two worker processes: only the experiments that did not finish
    second = run_sweep(tasks, tmp_path, workers=2)
    assert (second.ran, second.skipped, second.lost) == (3, 1, [])
    again = grid_table(ResultsFile(tmp_path).read(), tasks)
    # the same numbers as in one process: same config and seed, same rows
    pd.testing.assert_frame_equal(_numbers(again), _numbers(table))
    assert ResultsFile(tmp_path).path.read_text().count("\n") == 1 + len(table)


def test_a_dask_cluster_gives_the_identical_table(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    tasks, table, _ = reference
    tasks = grid_tasks(parse_grid(GRID), store=tmp_path / "models")
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        outcome = run_sweep(tasks, tmp_path, scheduler=cluster.scheduler_address)
    assert (outcome.ran, outcome.lost) == (4, [])
    again = grid_table(ResultsFile(tmp_path).read(), tasks)
    pd.testing.assert_frame_equal(_numbers(again), _numbers(table))
    assert not again["cached"].any()  # every model trained on the cluster


def test_the_numbers_compared_differ_from_seed_to_seed(reference):
    # so the identity checks above compare numbers that could have come out otherwise
    _, table, _ = reference
    ok = table[(table["error"] == "") & (table["method"] == "perturbation")]
    assert len(ok) == 2 and ok["deletion"].nunique() == 2


def test_the_command_writes_the_table_summary_and_figure(reference, capsys):
    tasks, table, out = reference
    knobs = [item for k, v in TINY.items() for item in ("--set", f"{k}={v}")]
    argv = ["--rule", "threshold", "--rule", "x1 > 1.5", "--seeds", "0-1", *knobs]
    argv += ["--methods", ",".join(METHODS), "--out", str(out), "--workers", "0"]
    assert sweep_main(argv) == 0  # every row is there already: nothing runs
    captured = capsys.readouterr()
    assert "4 complete, 0 with rows to run" in captured.err
    assert "note: 2 experiment(s) failed" in captured.err  # the unlearnable rule's rows
    assert "rule:threshold" in captured.out and "perturbation" in captured.out
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), table)
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2 * 3 and list(summary["n"]) == [2, 2, 2, 0, 0, 0]
    assert "plotly" in (out / "summary.html").read_text()


def test_the_figure_draws_every_seed_of_each_task_with_a_number(reference):
    from rnnviz.report.plots import sweep_boxes

    _, table, _ = reference
    fig = sweep_boxes(table, "lag_auc")
    assert [t.name for t in fig.data] == ["lstm"]  # the unlearnable rule has no number
    ok = table[table["task"] == "rule:threshold"]
    assert list(fig.data[0].y) == list(ok["lag_auc"])
    assert list(fig.data[0].x) == list(ok["label"])
    with pytest.raises(ValueError, match="no experiment of this sweep has a insertion"):
        sweep_boxes(table[table["task"] == UNLEARNABLE], "insertion")
