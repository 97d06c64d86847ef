"""The real series: loader, windows, time-ordered splits, train-only scaling, baselines, reading.

Most tests read the 120-day excerpt in tests/fixtures (a real slice of seattle-weather.csv), so
they do not depend on the vega_datasets package; the few that need the whole table skip
without it.
"""

import io
from pathlib import Path

import numpy as np
import pytest

from rnnviz import metrics
from rnnviz.attr.scoring import PerturbationResult
from rnnviz.config import PRESETS, Config, ConfigError
from rnnviz.data import datasets as ds
from rnnviz.data.source import source_of
from rnnviz.report import readings

FIXTURE = Path(__file__).parent / "fixtures" / "seattle-weather-excerpt.csv"
# The excerpt's 120 days cut like the real splits: earlier days train, later ones judge.
RANGES = {
    "train": ("2014-11-15", "2015-01-13"),  # 60 days
    "val": ("2015-01-14", "2015-02-12"),  # 30 days
    "score": ("2015-02-13", "2015-03-14"),  # 30 days
}


@pytest.fixture(scope="module")
def table() -> ds.Table:
    return ds.read_table(FIXTURE)


def split(table, name, **kw):
    kw.setdefault("window", 7)
    return ds.build_split(table, name, ranges=RANGES, **kw)


# --------------------------------------------------------------------------- loader


def test_loader_reads_the_fixture(table):
    assert len(table) == 120
    assert table.dates[0] == np.datetime64("2014-11-15")
    assert table.dates[-1] == np.datetime64("2015-03-14")
    assert np.all(np.diff(table.dates).astype(int) == 1)
    assert set(table.columns) == set(ds.MEASUREMENTS)
    # first row: 2014/11/15,0.0,8.3,-1.6,4.2,sun; last: 2015/03/14,17.0,13.9,9.4,3.8,fog
    assert [table.columns[c][0] for c in ds.MEASUREMENTS] == [0.0, 8.3, -1.6, 4.2]
    assert [table.columns[c][-1] for c in ds.MEASUREMENTS] == [17.0, 13.9, 9.4, 3.8]


def test_between_is_inclusive(table):
    part = table.between("2014-12-01", "2014-12-31")
    assert len(part) == 31 and part.dates[0] == np.datetime64("2014-12-01")


@pytest.mark.parametrize(
    "text, message",
    [
        ("date,precipitation,temp_max,wind\n2012/01/01,0,1,2\n", "missing column(s) temp_min"),
        ("date,precipitation,temp_max,temp_min,wind\n", "no rows"),
        (
            "date,precipitation,temp_max,temp_min,wind\n2012/01/01,0,1,x,2\n",
            "line 2: temp_min = 'x' is not a number",
        ),
        (
            "date,precipitation,temp_max,temp_min,wind\n2012/01/01,0,1,0,2\n2012/01/01,0,1,nan,2\n",
            "must be consecutive",
        ),
        (
            "date,precipitation,temp_max,temp_min,wind\n2012/01/01,0,1,0,2\n2012/01/03,0,1,0,2\n",
            "line 3: 2012-01-03 follows 2012-01-01",
        ),
        ("date,precipitation,temp_max,temp_min,wind\n1/2/2012,0,1,0,2\n", "YYYY/MM/DD"),
        ("date,precipitation,temp_max,temp_min,wind\n2012-01-01,0,inf,0,2\n", "finite value"),
    ],
)
def test_loader_says_what_to_fix(text, message):
    with pytest.raises(ds.DatasetError, match=None) as err:
        ds.read_table(io.StringIO(text))
    assert message in str(err.value)


def test_package_table_is_the_whole_series():
    pytest.importorskip("vega_datasets")
    full = ds.seattle_weather()
    assert len(full) == 1461  # 2012-01-01 .. 2015-12-31, 2012 a leap year
    assert full.dates[0] == np.datetime64("2012-01-01")
    assert full.dates[-1] == np.datetime64("2015-12-31")
    excerpt = ds.read_table(FIXTURE)
    part = full.between("2014-11-15", "2015-03-14")
    for c in ds.MEASUREMENTS:  # the fixture is a real excerpt
        np.testing.assert_array_equal(part.columns[c], excerpt.columns[c])


# --------------------------------------------------------------------------- windows and splits


def test_windows_and_next_day_targets_by_hand():
    values = np.array([[10.0], [11.0], [12.0], [13.0], [14.0]])  # 5 days, 1 feature
    target = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    x, y, idx = ds.windows(values, target, window=2)
    # n = 5 - 2 = 3 windows; x[i, t] = day i + t, y[i, t] = target of day i + t + 1
    np.testing.assert_array_equal(x[..., 0], [[10, 11], [11, 12], [12, 13]])
    np.testing.assert_array_equal(y, [[1, 1], [1, 0], [0, 1]])
    np.testing.assert_array_equal(idx, [[0, 1], [1, 2], [2, 3]])
    with pytest.raises(ds.DatasetError, match="no window of 5 days"):
        ds.windows(values, target, window=5)


def test_rain_target_and_persistence_by_hand():
    text = "date,precipitation,temp_max,temp_min,wind\n" + "".join(
        f"2012/01/0{d},{p},{t},0,1\n"
        for d, p, t in [(1, 0.0, 5.0), (2, 3.5, 6.0), (3, 0.0, 7.0), (4, 0.3, 8.0), (5, 0.0, 9.0)]
    )
    tiny = ds.read_table(io.StringIO(text))
    ranges = {k: ("2012-01-01", "2012-01-05") for k in ("train", "val", "score")}
    rain = ds.build_split(tiny, "score", window=2, ranges=ranges)
    # rain by day: 0 1 0 1 0. Window i reads days i, i+1; targets are days i+1, i+2.
    np.testing.assert_array_equal(rain.data.y, [[1, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(rain.persistence, [[0, 1], [1, 0], [0, 1]])
    assert rain.data.valid.all() and rain.task == "classification"
    assert rain.target_mean == pytest.approx(0.4)  # 2 rainy days of 5
    temp = ds.build_split(tiny, "score", outcome="temp_max", window=2, ranges=ranges)
    np.testing.assert_array_equal(temp.data.y, [[6, 7], [7, 8], [8, 9]])
    np.testing.assert_array_equal(temp.persistence, [[5, 6], [6, 7], [7, 8]])
    assert temp.task == "regression" and temp.unit == "°C"
    assert (temp.target_mean, temp.target_std) == pytest.approx((7.0, np.sqrt(2.0)))


def test_splits_are_time_ordered_and_never_share_a_day(table):
    parts = {name: split(table, name) for name in RANGES}
    for name, part in parts.items():
        first, last = (np.datetime64(d) for d in RANGES[name])
        # every input day and every target day (input + 1) lies inside the split's range
        assert part.days.min() >= first and part.days.max() + 1 <= last
        assert len(part.data.x) == len(table.between(*RANGES[name])) - 7
    score_days = set((parts["score"].days + 0).ravel().tolist())
    train_days = parts["train"].days
    train_seen = set(train_days.ravel().tolist()) | set((train_days + 1).ravel().tolist())
    assert not score_days & train_seen
    assert (parts["train"].days + 1).max() < parts["val"].days.min()
    assert (parts["val"].days + 1).max() < parts["score"].days.min()


def test_real_splits_train_2012_13_validate_2014_score_2015():
    pytest.importorskip("vega_datasets")
    config = PRESETS["seattle-weather"]
    train, val, score = (source_of(config).series(s) for s in ("train", "val", "score"))
    assert (train.days + 1).max() == np.datetime64("2013-12-31")
    assert val.days.min() == np.datetime64("2014-01-01")
    assert (val.days + 1).max() == np.datetime64("2014-12-31")
    assert score.days.min() == np.datetime64("2015-01-01")
    assert train.data.x.shape == (731 - 28, 28, 4)
    assert score.data.x.shape == (365 - 28, 28, 4)
    assert not score.data.x.flags.writeable  # shared arrays: nobody may change them in place


def test_features_are_standardised_on_the_training_split_only(table):
    train, score = split(table, "train"), split(table, "score")
    raw = ds.raw_features(table.between(*RANGES["train"]), ds.MEASUREMENTS)
    # the training days each once: window 0's days, the last step of every later window, and
    # the last day (a target only: no window reads it, but it is a training day)
    last = train.scaler.apply(raw[-1:])
    days = np.concatenate([train.data.x[0], train.data.x[1:, -1], last])
    np.testing.assert_allclose(days.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(days.std(axis=0), 1.0, atol=1e-5)
    score_days = np.concatenate([score.data.x[0], score.data.x[1:, -1]])
    assert np.abs(score_days.mean(axis=0)).max() > 0.1  # a later season: not centred
    # the scaler is the training range's raw statistics, whichever split is asked for
    np.testing.assert_allclose(score.scaler.mean, raw.mean(axis=0))
    np.testing.assert_allclose(score.scaler.std, raw.std(axis=0))
    # changing the later days changes neither the training data nor the scale
    later = ds.Table(table.dates, {k: v.copy() for k, v in table.columns.items()})
    later.columns["temp_max"][60:] += 100.0
    moved = split(later, "score")
    np.testing.assert_array_equal(split(later, "train").data.x, train.data.x)
    np.testing.assert_array_equal(moved.scaler.mean, score.scaler.mean)


def test_season_features_when_six(table):
    part = split(table, "train", n_features=6)
    assert part.feature_names == ds.MEASUREMENTS + ds.SEASON
    assert part.data.x.shape[2] == 6
    raw = ds.raw_features(table.between("2015-01-01", "2015-01-01"), ds.SEASON)
    np.testing.assert_allclose(raw, [[0.0, 1.0]])  # 1 January: angle 0
    with pytest.raises(ds.DatasetError, match="4 features"):
        ds.feature_names(5)


# --------------------------------------------------------------------------- config


def test_default_configs_keep_their_training_ids():
    # Pinned on main before the dataset/outcome knobs existed: cached models stay valid.
    assert Config().training_id() == "e607bf6a00ed908a"
    assert PRESETS["reference"].training_id() == "64d890d177c74db5"
    assert Config(rule="lagged", seed=7).training_id() == "6317749743fadca9"
    assert Config().task == "classification"


def test_real_config_validation_says_what_to_change():
    base = PRESETS["seattle-weather"]
    assert base.task == "classification" and PRESETS["seattle-temp"].task == "regression"
    with pytest.raises(ConfigError, match="dataset = 'paris'.*one of synthetic, seattle-weather"):
        base.replace(dataset="paris")
    with pytest.raises(ConfigError, match="outcome = 'snow'"):
        base.replace(outcome="snow")
    with pytest.raises(ConfigError, match="synthetic data is labelled by its rule"):
        Config(outcome="temp_max")
    with pytest.raises(ConfigError, match="n_features = 3.*day of year"):
        base.replace(n_features=3)
    with pytest.raises(ConfigError, match="seq_len = 120.*7 to 90 days"):
        base.replace(seq_len=120)
    with pytest.raises(ConfigError, match="input_scaling.*already standardised"):
        base.replace(input_scaling=True)


def test_real_config_round_trips_and_ignores_the_rule():
    base = PRESETS["seattle-temp"]
    assert Config.from_dict(base.to_dict()) == base
    assert Config.from_dict({"dataset": "seattle-weather", "outcome": "temp_max"}, base) == base
    # rule, n_train and n_val do not reach a real series: same training, same id
    assert base.replace(rule="lagged", n_train=500).training_id() == base.training_id()
    assert base.replace(outcome="rain").training_id() != base.training_id()


def test_a_series_counts_its_real_windows_whatever_n_score_and_n_train_say():
    """n_train, n_val and n_score are not knobs of a real series: its splits decide how many
    windows train, validate and are scored, and the bounds count those."""
    pytest.importorskip("vega_datasets")
    base = PRESETS["seattle-weather"]
    for seq_len in (7, 28, 50, 90):
        config = base.replace(seq_len=seq_len, n_train=60, n_val=70, n_score=10)
        counts = [len(source_of(config).series(s).data.x) for s in ("train", "val", "score")]
        assert [config.n_train, config.n_val, config.n_score] == counts
    assert base.replace(seq_len=50).n_score == 315  # 365 days of 2015 less the window
    # what a link or a file says about them changes nothing: the same experiment, the same key
    assert Config.from_dict({"n_score": 10, "n_train": 60, "n_val": 70}, base) == base
    assert "n_score" not in dict(base.scoring_key())
    assert dict(Config().scoring_key())["n_score"] == 250  # a synthetic one's is a knob


def test_the_hosted_bounds_count_every_window_a_series_scores():
    from rnnviz.serve.hosting import HOSTED_BOUNDS

    link = {"n_score": 10, "n_repeats": 10, "seq_len": 50, "n_features": 6}
    link |= {"units": (32, 32, 32), "activations": ("tanh",) * 3, "cell": "bilstm"}
    with pytest.raises(ConfigError) as err:
        Config.from_dict(link, PRESETS["seattle-weather"]).validate(HOSTED_BOUNDS)
    message = str(err.value)
    assert err.value.knob == "n_repeats" and "315 windows of 50 days" in message
    assert "50,000,000" in message and "fewer repeats" in message
    # one repeat of the same fits: 315 x (1 + 6 x 51) copies x 50 x 6 = 29,011,500 numbers
    one = Config.from_dict({**link, "n_repeats": 1}, PRESETS["seattle-weather"])
    assert one.validate(HOSTED_BOUNDS).score_values() == 29_011_500


def test_counts_that_do_not_apply_to_a_series_are_named():
    from rnnviz.config import not_applied

    base = PRESETS["seattle-weather"]
    message = not_applied({"n_score": "10", "seq_len": "50"}, base.replace(seq_len=50))
    assert message is not None and "n_score = 10" in message and "315" in message
    assert not_applied({"n_score": "337"}, base) is None  # what it uses anyway: nothing to say
    assert not_applied({"n_score": "10"}, Config()) is None  # a synthetic one's knob


def test_make_split_dispatches_to_the_real_series():
    pytest.importorskip("vega_datasets")
    from rnnviz.data.split import make_split, target_scale

    config = PRESETS["seattle-temp"]
    data = make_split(config, "val")
    direct = ds.build_split(ds.seattle_weather(), "val", outcome="temp_max", window=28)
    np.testing.assert_array_equal(data.y, direct.data.y)
    np.testing.assert_array_equal(data.x, direct.data.x)
    std, mean = target_scale(config)
    assert 14 < mean < 18 and 5 < std < 10  # °C of max temperature, 2012-2013
    assert target_scale(PRESETS["seattle-weather"]) is None


# --------------------------------------------------------------------------- baselines, verdict


def test_persistence_and_majority_by_hand():
    y = [1, 0, 1, 1, 0]
    today = [1, 1, 0, 1, 0]  # right on days 1, 4, 5
    assert metrics.persistence_accuracy(y, today) == pytest.approx(0.6)
    assert metrics.majority_accuracy(y) == pytest.approx(0.6)  # always 1: 3 of 5
    assert metrics.accuracy([0.9, 0.2, 0.4, 0.5, 0.49], y) == pytest.approx(0.8)
    # model right where persistence is wrong on days 2, 3 (and the other way on none)
    model = [1, 0, 1, 1, 0]
    assert metrics.paired_counts(y, model, today) == (2, 0)
    assert not metrics.clearly_better(2, 0)  # 2 > 2 x sqrt(2) = 2.83: no
    assert metrics.clearly_better(30, 10)  # 20 > 2 x sqrt(40) = 12.6
    assert not metrics.clearly_better(32, 31)


def test_r2_against_the_training_mean_by_hand():
    y, pred = [1.0, 2.0, 3.0], [1.0, 2.0, 2.0]
    # model SSE = 1; training mean 2 has SSE 1 + 0 + 1 = 2; R² = 1 - 1/2
    assert metrics.r2_against(y, pred, 2.0) == pytest.approx(0.5)
    # a training mean of 1 (the later data shifted up): SSE 0 + 1 + 4 = 5, R² = 0.8
    assert metrics.r2_against(y, pred, 1.0) == pytest.approx(0.8)
    assert metrics.r2_against(y, [2.0, 2.0, 2.0], 2.0) == pytest.approx(0.0)
    assert metrics.mse(y, pred) == pytest.approx(1 / 3)
    assert metrics.skill(1.0, 4.0) == pytest.approx(0.75)
    assert metrics.skill(1.0, 0.0) is None
    assert metrics.regression_grade(0.8) == "learned"
    assert metrics.regression_grade(0.5) == "partly learned"
    assert metrics.regression_grade(0.29) == "did not learn"
    with pytest.raises(ValueError, match="every target equals the mean"):
        metrics.r2_against([2.0, 2.0], [1.0, 3.0], 2.0)
    # paired squared errors: differences 3, 3, 3, 5 → mean 3.5 > 2 x 1 / 2 (se = 1/2)
    assert metrics.clearly_lower([1, 1, 1, 1], [4, 4, 4, 6])
    assert not metrics.clearly_lower([1, 1, 1, 1], [1, 1, 1, 2])


def test_verdicts_name_both_baselines():
    text = readings.classification_verdict(
        0.75,
        0.6,
        0.7,
        beats_majority=True,
        beats_persistence=True,
        what="rain tomorrow",
        when="the 300 forecast days of 2015",
    )
    assert "75.0% of the 300 forecast days of 2015" in text
    assert "60.0%" in text and "70.0%" in text
    assert "83% of persistence's errors" in text  # 0.25 / 0.30
    assert "no ground truth" in text
    close = readings.classification_verdict(
        0.72, 0.6, 0.71, beats_majority=True, beats_persistence=False
    )
    assert "not clearly persistence" in close
    text = readings.regression_verdict(0.9, 4.0, 9.0, beats_persistence=True, unit="°C")
    assert "R² = 0.90" in text and "2.00 °C" in text and "3.00 °C" in text
    assert "removes 56% of persistence's squared error" in text  # 1 - 4/9


def test_forecast_scores_of_persistence_itself(table):
    part = split(table, "score")

    def persistence(x):  # the model that repeats today (it reads the split, not x)
        return np.asarray(part.persistence)

    scores = ds.forecast_scores(persistence, part)
    assert scores["days"] == len(part.data.x)
    assert scores["accuracy"] == scores["persistence_accuracy"]
    assert scores["model_only"] == scores["persistence_only"] == 0
    assert scores["beats_persistence"] == 0.0
    temp = split(table, "score", outcome="temp_max")
    scores = ds.forecast_scores(lambda x: np.asarray(temp.persistence), temp)
    assert scores["mse"] == scores["persistence_mse"] and scores["r2"] == scores["persistence_r2"]
    assert "does not clearly beat persistence" in readings.forecast_verdict(scores, "temp_max")


# --------------------------------------------------------------------------- the reading


def constructed_scores(importances, profiles, sigma=0.2):
    """Scores whose by-lag profile of feature f is ``profiles[f]`` (lag 0, 1, ...)."""
    names = ds.MEASUREMENTS
    n_steps = len(profiles[0])
    response = np.zeros((len(names), n_steps, n_steps, 1))
    for f, profile in enumerate(profiles):
        for s in range(n_steps):
            for t in range(s, n_steps):
                response[f, s, t, 0] = profile[t - s]
    imp = np.asarray(importances, dtype=float)[:, None]
    return PerturbationResult(sigma, names, imp, response)


RHO = {
    ("precipitation", "temp_max"): -0.23,
    ("precipitation", "temp_min"): -0.08,
    ("precipitation", "wind"): 0.30,
    ("temp_max", "temp_min"): 0.87,
    ("temp_max", "wind"): -0.17,
    ("temp_min", "wind"): -0.08,
}


def test_reading_from_constructed_numbers():
    scores = constructed_scores(
        [0.05, 0.02, 0.015, 0.03],
        [[0.04, 0.025, 0.01, 0.005], [0.01] * 4, [0.01] * 4, [0.02] * 4],
    )
    np.testing.assert_allclose(scores.by_lag()[0][3:], [0.04, 0.025, 0.01, 0.005])
    text = readings.weather_reading(scores, RHO, outcome="rain", target_means=(0.45, 0.39))
    reading, caveats = text.split("\n\n")
    assert reading.startswith("Precipitation of the last 2 days matters most")
    assert "moves the forecast probability of rain by 0.050 (RMS, on 0 to 1)" in reading
    assert "Then wind 0.030, max temperature 0.020, min temperature 0.015." in reading
    assert "share credit because they move together (ρ = 0.87" in reading
    assert "precipitation and wind" not in reading  # ρ = 0.30: not together
    assert "Correlated features: max temperature and min temperature" in caveats
    assert "rained on 45% of the training days and 39% of the scored days" in caveats
    assert "Seasonality" in caveats and "No ground truth" in caveats


def test_reading_of_a_regression_with_a_tie_and_no_correlation():
    scores = constructed_scores(
        [0.3, 1.0, 0.2, 0.9],
        [[0.1] * 3, [1.0, 0.2, 0.1], [0.1] * 3, [0.5, 0.1, 0.1]],
    )
    text = readings.weather_reading(scores, {}, outcome="temp_max", target_means=(15.7, 18.0))
    reading, caveats = text.split("\n\n")
    assert reading.startswith(
        "Max temperature (of today (the last day the model sees)) and wind matter about equally"
    )
    assert "moves the forecast by 1.00 °C (RMS)" in reading
    assert "share credit" not in reading
    assert readings.SERIES_CAVEATS["correlated"] in caveats
    assert "averaged 15.7 °C on the training days and 18.0 °C" in caveats


def test_reach_reads_lags_at_or_after_zero():
    lags = np.arange(-2, 3)
    assert ds.reach(np.array([9.0, 9.0, 1.0, 0.6, 0.2]), lags) == [0, 1]
    assert ds.reach(np.array([0.0, 0.0, 0.2, 1.0, 0.1]), lags) == [1]
    assert ds.reach(np.zeros(5), lags) == []


def test_sigma_meaning_is_a_sentence_about_spread():
    assert "share of a feature's spread" in ds.SIGMA_MEANING


# --------------------------------------------------------------------------- the model


def test_regression_model_has_a_linear_head_in_the_targets_units():
    pytest.importorskip("vega_datasets")
    from rnnviz.training.fit import evaluate
    from rnnviz.training.model import build_model

    config = PRESETS["seattle-temp"]
    model = build_model(config)
    assert model.get_layer("head").get_config()["activation"] == "linear"
    scale = model.get_layer("to_target_units").get_config()
    std, mean = source_of(config).target_scale()
    assert scale["scale"] == pytest.approx(std) and scale["offset"] == pytest.approx(mean)
    assert build_model(PRESETS["seattle-weather"]).get_layer("head").get_config()["activation"] == (
        "sigmoid"
    )
    part = source_of(config).series("val")
    loss, r2 = evaluate(lambda x: np.full(part.data.y.shape, mean), part.data, mean)
    assert r2 == pytest.approx(0.0) and loss == pytest.approx(
        float(((part.data.y - mean) ** 2).mean()), rel=1e-5
    )


def test_end_to_end_run_on_the_real_series():
    pytest.importorskip("vega_datasets")
    from rnnviz.experiment import run
    from rnnviz.report.readings import training_verdict

    config = PRESETS["seattle-temp"].replace(epochs=2, n_repeats=1)
    trained, scores = run(config)  # what the CLI and the pages call
    forecast, verdict = readings.judge(config, trained.predict)
    correlations, reading = (
        ds.training_correlations(config),
        readings.series_reading(config, scores),
    )
    assert scores.feature_names == ds.MEASUREMENTS
    assert scores.importances.shape == (4, 1) and scores.by_lag().shape == (4, 55)
    assert forecast["days"] == 365 - 28
    assert 0 < forecast["persistence_mse"] < 20  # °C², the forecasts are in °C
    assert correlations[("temp_max", "temp_min")] == pytest.approx(0.87, abs=0.01)
    assert "persistence" in verdict and "Caveats (real data):" in reading
    assert trained.baseline_accuracy == 0.0  # R² of the training mean
    assert training_verdict(trained).startswith("Validation R² = ")
    assert "no rule to learn" in training_verdict(trained)


@pytest.mark.parametrize(
    "scores, standing",
    [
        ({"beats_persistence": 1.0, "beats_majority": 1.0}, "persistence"),
        ({"beats_persistence": 0.0, "beats_majority": 1.0}, "simple"),
        ({"beats_persistence": 0.0, "beats_majority": 0.0}, "none"),
        ({"beats_persistence": 0.0, "r2": 0.5}, "simple"),  # grade: partly learned
        ({"beats_persistence": 0.0, "r2": 0.2}, "none"),  # R² > 0, but "did not learn"
        ({"beats_persistence": 1.0, "r2": 0.9}, "persistence"),
    ],
)
def test_the_verdict_box_colour_agrees_with_the_verdict(scores, standing):
    assert ds.forecast_standing(scores) == standing
    if "r2" in scores and standing == "none":
        assert "did not learn" in readings.regression_verdict(
            scores["r2"], 1.0, 1.0, beats_persistence=False
        )
