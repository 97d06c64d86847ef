"""A class's sweep on the Compare page: its rows of the experiment on screen, over seeds.

The readings are checked on hand-made rows (counts and medians worked out by hand), the loader
on files written by the sweep's own writer (``ResultsFile``), torn and damaged, and the page by
an AppTest with a tiny sweep folder named by ``RNNVIZ_SWEEP_DIR``.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.config import Config
from rnnviz.report import readings
from rnnviz.serve.hosting import load_settings
from rnnviz.sweep.grid import Task, experiment_id
from rnnviz.sweep.seeds import SweepUnreadable, load_sweep, task_key, task_rows
from rnnviz.sweep.table import ResultsFile, typed, write_parquet
from rnnviz.sweep.work import COLUMNS, base_row
from rnnviz.ui import cache

from apptools import APP, PAGES, TIMEOUT, TINY, assert_clean, private_cache, shown

NAN = math.nan
PAGE_CONFIG = Config.from_dict(TINY)  # the experiment the AppTest opens (seed 0)


def row(config: Config, method: str, **numbers) -> dict:
    """A results row as the sweep writes it (``base_row``), with ``numbers`` filled in."""
    task = Task(experiment_id(config), f"rule:{config.rule}", config, (method,))
    return {**base_row(task, method), **numbers}


def frame(rows: list[dict]) -> pd.DataFrame:
    """The rows typed as the results file is read back."""
    return typed(pd.DataFrame(rows, columns=list(COLUMNS)).astype(str).replace("nan", ""))


# Feature AUC and deletion score per seed 0..4 (worked out by hand below).
PERTURBATION = ([1.0, 1.0, 1.0, 1.0, 1.0], [0.30, 0.10, 0.20, 0.50, 0.40])
WEIGHTS = ([1.0, 0.5, 1.0, 0.75, 0.5], [0.05, -0.02, 0.01, 0.00, 0.03])
RANDOM = ([0.5, 1.0, 0.25, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0])


def five_seeds(config: Config = PAGE_CONFIG) -> list[dict]:
    rows = []
    for seed in range(5):
        c = config.replace(seed=seed)
        for method, (auc, deletion) in (
            ("perturbation", PERTURBATION),
            ("connection_weights", WEIGHTS),
            ("random", RANDOM),
        ):
            rows.append(row(c, method, feature_auc=auc[seed], deletion=deletion[seed]))
    return rows


# --------------------------------------------------------------------------- readings (pure)


def test_reading_counts_the_seeds_that_rank_the_truth_first():
    rows = frame(five_seeds())
    assert readings.seeds_reading(rows) == (
        "Over 5 seeds, Input perturbation (noise) ranks the rule's features first in 5/5, "
        "Connection weights (Olden) in 2/5 and Random scores (chance) in 1/5."
    )
    table = readings.seeds_table(rows)
    assert table["method"] == [
        "Input perturbation (noise)",
        "Connection weights (Olden)",
        "Random scores (chance)",
    ]
    assert table["truth first"] == ["5/5", "2/5", "1/5"]
    # weights' AUCs sorted: 0.5 0.5 0.75 1 1 -> median 0.75; random's: 0 .25 .5 .5 1 -> 0.5
    assert table["feature AUC"] == ["1.00 (1.00–1.00)", "0.75 (0.50–1.00)", "0.50 (0.00–1.00)"]
    # perturbation's deletion sorted: .1 .2 .3 .4 .5 -> median 0.3
    assert table["deletion"][0] == "+0.300 (+0.100 to +0.500)"
    assert table["deletion"][1] == "+0.010 (-0.020 to +0.050)"
    assert table["seeds"] == ["5", "5", "5"]


def test_a_failed_seed_is_counted_apart_not_as_a_miss():
    rows = five_seeds()
    for r in rows:
        if r["seed"] == 3 and r["method"] == "connection_weights":
            r.update(feature_auc=NAN, deletion=NAN, error="ValueError: cannot learn")
    rows = frame(rows)
    line = readings.seeds_reading(rows)
    assert line.startswith("Over 5 seeds (1 of 5 failed in the sweep), ")
    assert "Connection weights (Olden) in 2/4" in line
    table = readings.seeds_table(rows)
    assert table["truth first"][1] == "2/4"
    assert table["seeds"] == ["5", "5 (1 failed)", "5"]
    # without seed 3 (0.75): 0.5 0.5 1 1 -> median 0.75 still, range unchanged
    assert table["feature AUC"][1] == "0.75 (0.50–1.00)"


def test_without_truth_the_reading_ranks_by_deletion():
    rows = frame(
        [
            {**r, "feature_auc": NAN}
            for r in five_seeds()  # as on a real series: no truth score
        ]
    )
    assert readings.seeds_reading(rows) == (
        "Over 5 seeds, with no ground truth to rank against, the most faithful by deletion is "
        "Input perturbation (noise) (median +0.300), the least Random scores (chance) (+0.000)."
    )
    assert readings.seeds_table(rows)["truth first"] == ["—", "—", "—"]
    assert readings.seeds_reading(rows.iloc[0:0]) is None


# --------------------------------------------------------------------------- the task's rows


def test_task_rows_are_the_same_task_with_any_seed():
    other_cell = five_seeds(PAGE_CONFIG.replace(cell="gru"))
    more_units = five_seeds(PAGE_CONFIG.replace(units=(4, 5)))
    other_sigma = [row(PAGE_CONFIG.replace(sigma=0.3), "perturbation", feature_auc=0.0)]
    table = frame(five_seeds() + other_cell + more_units + other_sigma)
    mine = task_rows(table, PAGE_CONFIG.replace(seed=7))  # a seed the sweep did not run
    assert len(mine) == 15
    assert sorted(set(mine["seed"])) == [0, 1, 2, 3, 4]
    assert set(mine["cell"]) == {PAGE_CONFIG.cell}
    assert (mine["feature_auc"] >= 0.0).all()
    assert not (mine["method"].eq("perturbation") & mine["feature_auc"].eq(0.0)).any()
    # scored another way only: those rows are the task's (the scoring is not the task)
    assert task_rows(frame(other_sigma), PAGE_CONFIG)["feature_auc"].tolist() == [0.0]
    assert task_rows(table, PAGE_CONFIG.replace(cell="lstm", rule="lagged")).empty
    assert "seed" not in dict(task_key(PAGE_CONFIG))
    assert dict(task_key(PAGE_CONFIG.replace(cell="gru")))["cell"] == "gru"


# --------------------------------------------------------------------------- the loader


def test_load_reads_the_sweep_file_and_leaves_out_a_torn_line(tmp_path):
    ResultsFile(tmp_path).append(five_seeds())
    with open(tmp_path / "results.csv", "a") as f:
        f.write("abc,rule:ref")  # a sweep killed mid-write
    table = load_sweep(tmp_path)
    assert len(table) == 15
    assert table["feature_auc"].tolist()[:3] == [1.0, 1.0, 0.5]


def test_load_falls_back_to_parquet(tmp_path):
    write_parquet(frame(five_seeds()), tmp_path)
    table = load_sweep(tmp_path)
    assert readings.seeds_table(task_rows(table, PAGE_CONFIG))["truth first"] == [
        "5/5",
        "2/5",
        "1/5",
    ]


@pytest.mark.parametrize(
    "content",
    [b"\x00\xff garbage\n", b"not,a,sweep\n1,2,3\n", None],
    ids=["bytes", "another table", "bad numbers"],
)
def test_a_damaged_file_says_so_without_its_path(tmp_path, content):
    folder = tmp_path / "secret-folder"
    ResultsFile(folder).append(five_seeds())
    path = folder / "results.csv"
    if content is None:
        lines = path.read_text().splitlines(keepends=True)
        bad = lines[1].split(",")
        bad[COLUMNS.index("seed")] = "zero"
        path.write_text(lines[0] + ",".join(bad) + "".join(lines[2:]))
    else:
        path.write_bytes(content)
    with pytest.raises(SweepUnreadable) as caught:
        load_sweep(folder)
    assert "secret-folder" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_folder_or_file_says_so(tmp_path):
    with pytest.raises(SweepUnreadable, match="does not exist"):
        load_sweep(tmp_path / "nowhere")
    with pytest.raises(SweepUnreadable, match="holds no results.csv"):
        load_sweep(tmp_path)


def test_the_setting_comes_from_the_environment_or_secrets():
    assert load_settings({}).sweep_dir == ""
    assert load_settings({"RNNVIZ_SWEEP_DIR": "/srv/sweep"}).sweep_dir == "/srv/sweep"
    assert load_settings({}, {"sweep_dir": "class"}).sweep_dir == "class"


# --------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class-sweep")
    ResultsFile(folder).append(five_seeds())
    ResultsFile(folder).append(five_seeds(PAGE_CONFIG.replace(cell="gru")))  # another task
    return folder


@pytest.fixture(scope="module", autouse=True)
def app_cache(tmp_path_factory, sweep_dir):
    yield from private_cache(tmp_path_factory, {"RNNVIZ_SWEEP_DIR": str(sweep_dir)})


def seed_expanders(at: AppTest) -> list:
    return [e for e in at.expander if "from the class's sweep" in e.label]


def everything_shown(at: AppTest) -> str:
    parts = [m.value for m in (*at.markdown, *at.caption, *at.info, *at.warning)]
    return shown("\n".join(parts + [e.label for e in at.expander]))


def test_the_page_shows_the_class_sweep_over_seeds_then_a_damaged_file_in_one_line(sweep_dir):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(TINY)
    at.switch_page(f"{PAGES}/compare.py")
    at.run()
    assert_clean(at)
    (section,) = seed_expanders(at)
    assert section.label == "Over 5 seeds (from the class's sweep)"
    (said,) = [shown(m.value) for m in section.markdown]
    assert said == (
        "Over 5 seeds, Input perturbation (noise) ranks the rule's features first in 5/5, "
        "Connection weights (Olden) in 2/5 and Random scores (chance) in 1/5."
    )
    (table,) = section.table
    assert list(table.value["truth first"]) == ["5/5", "2/5", "1/5"]  # not the gru task's rows

    (sweep_dir / "results.csv").write_bytes(b"\x00\xff not a sweep\n")
    at.run()
    assert_clean(at)
    assert not seed_expanders(at)
    lines = [c.value for c in at.caption if "class's sweep" in c.value]
    assert len(lines) == 1 and "cannot be shown" in lines[0]
    assert str(sweep_dir) not in everything_shown(at)
    assert "Traceback" not in everything_shown(at)

    # no sweep folder set: no section, no line
    mp = pytest.MonkeyPatch()
    mp.delenv("RNNVIZ_SWEEP_DIR")
    cache.settings.clear()
    try:
        at.run()
    finally:
        mp.undo()
        cache.settings.clear()
    assert_clean(at)
    assert not seed_expanders(at)
    assert "class's sweep" not in everything_shown(at)
