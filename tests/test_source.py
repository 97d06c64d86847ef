"""The data-source seam: one source per config, chosen once (rnnviz.data.source).

Each source gives its splits (shapes, names, truth or none, the same for the same seed); an
unknown dataset gets a clear error; a new family is one class and one registry entry; and no
module outside the seam tests which dataset a config names.
"""

import re
from pathlib import Path

import numpy as np
import pytest

from rnnviz.config import DATA_KINDS, PRESETS, Config, DataKind
from rnnviz.data.base import DataError, Dataset
from rnnviz.data.datasets import check_forecast
from rnnviz.data.source import SOURCES, SeriesSource, Source, SyntheticSource, source_of
from rnnviz.data.split import make_split, target_scale

TINY = Config(seq_len=6, n_features=3, n_train=120, n_val=60, n_score=40, rule="x1[t] > 0.5")
ROOT = Path(__file__).resolve().parent.parent / "rnnviz"
# Modules allowed to know the families by name: the seam itself.
SEAM = {"rnnviz/data/source.py"}
# A test of a dataset's name: a config's dataset against a written name (any family), or any
# value against the rule-made family's name. Comparing two configs' datasets (is this draft of
# the same data?) names no family and is allowed.
BRANCH = re.compile(
    r"""dataset\s*[!=]=\s*["']|[!=]=\s*["']synthetic["']|["'][\w-]+["']\s*[!=]=\s*\S*dataset"""
)


def branch_sites(root: Path) -> list[str]:
    """``path:line: code`` of every test of a config's dataset by name outside the seam."""
    sites = []
    for path in sorted(root.rglob("*.py")):
        rel = f"rnnviz/{path.relative_to(root).as_posix()}"
        if rel in SEAM:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if BRANCH.search(line.split("#")[0]):
                sites.append(f"{rel}:{number}: {line.strip()}")
    return sites


def test_no_module_outside_the_seam_tests_the_dataset_by_name():
    sites = branch_sites(ROOT)
    assert not sites, "ask rnnviz.data.source.source_of(config) instead:\n" + "\n".join(sites)


def test_the_branch_scan_finds_a_planted_branch(tmp_path):
    (tmp_path / "a.py").write_text('x = 1\nif config.dataset != "synthetic":\n    pass\n')
    (tmp_path / "b.py").write_text('real = ss["dataset"] == "synthetic"  # a widget\n')
    (tmp_path / "c.py").write_text(
        'box = config.dataset == "box-middle"\nsame = config.dataset == draft.dataset\n'
        'rain = "seattle-weather" != config.dataset\n'
    )
    assert branch_sites(tmp_path) == [
        'rnnviz/a.py:2: if config.dataset != "synthetic":',
        'rnnviz/b.py:1: real = ss["dataset"] == "synthetic"  # a widget',
        'rnnviz/c.py:1: box = config.dataset == "box-middle"',
        'rnnviz/c.py:3: rain = "seattle-weather" != config.dataset',
    ]


# --------------------------------------------------------------------------- choosing


def test_every_dataset_the_config_accepts_has_one_source():
    assert set(SOURCES) == set(DATA_KINDS)
    for name, cls in SOURCES.items():
        assert issubclass(cls, Source) and cls.name == name


def test_source_of_chooses_by_the_config():
    assert type(source_of(TINY)) is SyntheticSource
    assert type(source_of(PRESETS["seattle-weather"])) is SeriesSource


def test_an_unknown_dataset_gets_an_error_naming_the_known_ones():
    config = TINY.replace()
    object.__setattr__(config, "dataset", "moon-tides")  # a Config cannot hold it otherwise
    with pytest.raises(DataError, match=r"'moon-tides'.*seattle-weather, synthetic"):
        source_of(config)
    with pytest.raises(DataError, match="moon-tides"):
        make_split(config, "train")


# --------------------------------------------------------------------------- rule-made


def test_synthetic_splits_have_the_configs_shapes_names_and_rule():
    source = source_of(TINY)
    for split, n in (("train", 120), ("val", 60), ("score", 40)):
        data = source.split(split)
        assert data.x.shape == (n, 6, 3) and data.y.shape == data.valid.shape == (n, 6)
        assert 0 <= data.x.min() and data.x.max() < 1
        # the rule labels every step: y = x1 > 0.5 where defined
        np.testing.assert_array_equal(data.y, (data.x[:, :, 0] > 0.5).astype(np.float32))
    assert source.feature_names == ("x1", "x2", "x3")
    assert source.truth is not None and source.truth.ground_truth == {(0, 0)}
    assert source.rule.expression == source.truth.expression
    assert source.fill == 0.5 and source.target_scale() is None and not source.has_forecast
    assert not source.fixed_counts and source.description() == "y_t = 1 when x1 > 0.5"


def test_synthetic_splits_are_the_same_for_a_seed_and_differ_between_seeds_and_splits():
    a, b = source_of(TINY).split("train"), source_of(TINY).split("train")
    np.testing.assert_array_equal(a.x, b.x)
    other = source_of(TINY.replace(seed=1)).split("train")
    assert not np.array_equal(a.x, other.x)
    assert not np.array_equal(a.x[:40], source_of(TINY).split("score").x)
    # one stream per split: more validation sequences leave the training data as it was
    np.testing.assert_array_equal(a.x, source_of(TINY.replace(n_val=90)).split("train").x)


def test_an_unknown_split_is_refused_by_name():
    with pytest.raises(DataError, match="'test'.*train, val, score"):
        source_of(TINY).split("test")


def test_a_rule_made_source_has_no_forecast_to_score():
    with pytest.raises(DataError, match="validation accuracy"):
        source_of(TINY).forecast(lambda x: np.zeros(x.shape[:2]))


# --------------------------------------------------------------------------- a real series


def test_series_splits_have_fixed_counts_names_and_no_truth():
    pytest.importorskip("vega_datasets")
    config = PRESETS["seattle-weather"]
    source = source_of(config)
    for split, knob in (("train", "n_train"), ("val", "n_val"), ("score", "n_score")):
        data = source.split(split)
        assert data.x.shape == (getattr(config, knob), 28, 4) and data.valid.all()
    assert source.feature_names == ("precipitation", "temp_max", "temp_min", "wind")
    assert source.rule is None and source.truth is None
    assert source.fill == 0.0 and source.has_forecast and source.fixed_counts
    assert source.target_scale() is None  # rain: a sigmoid head
    assert source.score_period == "2015" and "Seattle weather" in source.description()
    # standardised on the training days: each day's features (a window's last step) average 0
    np.testing.assert_allclose(source.split("train").x[:, -1].mean(axis=0), 0, atol=0.1)
    again = source_of(config).split("score")
    np.testing.assert_array_equal(source.split("score").x, again.x)


def test_series_forecast_numbers_against_a_perfect_and_a_persistence_model():
    pytest.importorskip("vega_datasets")
    source = source_of(PRESETS["seattle-weather"])
    score = source.series("score")
    by_x = {id(score.data.x): score}

    def perfect(x):
        return by_x[id(x)].data.y

    numbers = source.forecast(perfect)
    assert numbers["accuracy"] == 1.0 and numbers["days"] == len(score.data.y)
    wrong_today = numbers["days"] * (1 - numbers["persistence_accuracy"])
    assert numbers["model_only"] == pytest.approx(wrong_today) and numbers["persistence_only"] == 0
    check_forecast(numbers, source.config)  # the sums that tie them together hold
    today = source.forecast(lambda x: by_x[id(x)].persistence)
    assert today["accuracy"] == today["persistence_accuracy"] and not today["beats_persistence"]


def test_regression_series_scale_is_the_training_days_outcome():
    pytest.importorskip("vega_datasets")
    config = PRESETS["seattle-temp"]
    std, mean = source_of(config).target_scale()
    train_y = source_of(config).split("train").y[:, -1]  # each training day's next max, once
    assert mean == pytest.approx(float(train_y.mean()), abs=0.5)
    assert target_scale(config) == (std, mean)


# --------------------------------------------------------------------------- a new family


class _Planted(Source):
    """A toy family: zeros with a one in a fixed cell, labelled 1 on every step."""

    name = "toy-planted"
    fill = 0.0

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"f{i}" for i in range(self.config.n_features))

    def split(self, name: str) -> Dataset:
        c = self.config
        n = {"train": c.n_train, "val": c.n_val, "score": c.n_score}[name]
        x = np.zeros((n, c.seq_len, c.n_features), dtype=np.float32)
        x[:, 1, 0] = 1.0
        y = np.ones((n, c.seq_len), dtype=np.float32)
        return Dataset(x=x, y=y, valid=np.ones_like(y, dtype=bool))

    def description(self) -> str:
        return "a planted cell"


def test_a_new_family_is_one_class_and_one_entry(monkeypatch):
    from rnnviz.experiment import feature_names, ground_truth

    monkeypatch.setitem(DATA_KINDS, "toy-planted", DataKind("toy-planted"))
    monkeypatch.setitem(SOURCES, "toy-planted", _Planted)
    config = TINY.replace(dataset="toy-planted")
    assert "rule" not in dict(config.training_key())  # no rule labels it
    assert make_split(config, "val").x.shape == (60, 6, 3)
    assert feature_names(config) == ("f0", "f1", "f2") and ground_truth(config) is None
    assert target_scale(config) is None


def test_kept_forecast_numbers_of_a_series_must_be_its_tasks_over_every_scored_window():
    config = PRESETS["seattle-weather"]
    with pytest.raises(ValueError, match="classification forecast"):
        check_forecast({"days": 337.0, "accuracy": 0.7}, config)
    temp = PRESETS["seattle-temp"]
    numbers = {"days": 300.0, "mse": 4.0, "persistence_mse": 8.0, "r2": 0.9, "beats_persistence": 1}
    numbers["persistence_r2"] = 0.8  # (1 - 0.9) x 8 = (1 - 0.8) x 4: the two R² agree
    with pytest.raises(ValueError, match="300.0 days, not the 337 scored"):
        check_forecast(numbers, temp)
    check_forecast({**numbers, "days": 337.0}, temp)
