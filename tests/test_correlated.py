"""Correlated features: a Gaussian copula makes chosen pairs rank-correlated with the requested
Spearman rho while every feature stays uniform on [0, 1); the knob validates, round-trips and
keys the cache; the default leaves the data exactly as before."""

import numpy as np
import pytest

from rnnviz.config import PRESETS, Config, ConfigError, format_correlated, parse_correlated
from rnnviz.data.split import generate, make_split
from rnnviz.rules import get_rule

N = 20_000  # values per feature in the statistical checks


def _ranks(v: np.ndarray) -> np.ndarray:
    out = np.empty(len(v))
    out[np.argsort(v, kind="stable")] = np.arange(len(v))
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def ks_uniform(v: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic of ``v`` against U[0, 1): max |ECDF - u|, by hand."""
    u = np.sort(np.asarray(v, dtype=np.float64))
    n = len(u)
    above = np.arange(1, n + 1) / n - u
    below = u - np.arange(n) / n
    return float(max(above.max(), below.max()))


def _draw(pairs, n_features=4, seed=3):
    rule = get_rule("x1 > 0.5", n_features=n_features, seq_len=1)
    return generate(rule, N, 1, n_features, seed, correlated=pairs).x[:, 0, :]


def test_ks_helper_rejects_what_is_not_uniform():
    rng = np.random.default_rng(0)
    assert ks_uniform(rng.random(N)) < 1.63 / np.sqrt(N)
    assert ks_uniform(rng.random(N) ** 1.1) > 1.63 / np.sqrt(N)


@pytest.mark.parametrize("rho", [0.95, 0.5, -0.7, 0.2])
def test_pairs_have_the_requested_rank_correlation_and_uniform_marginals(rho):
    x = _draw(((1, 4, rho),))
    assert abs(spearman(x[:, 0], x[:, 3]) - rho) < 0.02
    for f in range(4):
        assert ks_uniform(x[:, f]) < 1.63 / np.sqrt(N), f"x{f + 1} is not uniform"
        assert x[:, f].min() >= 0.0 and x[:, f].max() < 1.0
    for a, b in [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]:  # every other pair stays independent
        assert abs(spearman(x[:, a], x[:, b])) < 0.03


def test_two_pairs_at_once():
    x = _draw(((1, 2, 0.6), (3, 4, -0.4)))
    assert abs(spearman(x[:, 0], x[:, 1]) - 0.6) < 0.02
    assert abs(spearman(x[:, 2], x[:, 3]) + 0.4) < 0.02
    assert abs(spearman(x[:, 0], x[:, 2])) < 0.03


def test_default_data_is_unchanged():
    """No correlated pairs: the very same draws as before the knob existed."""
    cfg = Config()
    for split, seed in (("train", 0), ("val", 1), ("score", 2)):
        s = np.random.SeedSequence([cfg.seed, seed]).generate_state(1)[0]
        expected = np.random.default_rng(int(s)).random(
            (getattr(cfg, f"n_{split}"), cfg.seq_len, cfg.n_features), dtype=np.float32
        )
        np.testing.assert_array_equal(make_split(cfg, split).x, expected)


def test_make_split_uses_the_config_and_labels_from_the_correlated_data():
    cfg = PRESETS["correlated"]
    data = make_split(cfg, "train")
    x = data.x.reshape(-1, cfg.n_features)
    assert spearman(x[:, 0], x[:, 3]) > 0.9
    np.testing.assert_array_equal(data.y, (data.x[..., 0] > 0.5).astype(np.float32))


def test_correlated_preset():
    cfg = PRESETS["correlated"]
    assert cfg.n_features == 4 and cfg.correlated == ((1, 4, 0.95),)
    assert cfg.target().features == frozenset({0})  # the rule reads x1 only


def test_knob_validation_names_the_knob():
    for bad in [
        ((1, 5, 0.5),),  # x5 does not exist with 4 features
        ((0, 2, 0.5),),  # features are x1..xF
        ((2, 2, 0.5),),  # a feature with itself
        ((1, 2, 1.0),),  # |rho| < 1
        ((1, 2, float("nan")),),
        ((1, 2, 0.5), (2, 3, 0.5)),  # x2 in two pairs
        ((1, 2),),
        "x1~x2:0.5",  # the Python value is a tuple; text goes through from_dict
    ]:
        with pytest.raises(ConfigError) as err:
            Config(n_features=4, correlated=bad)
        assert err.value.knob == "correlated"


def test_pairs_are_stored_in_one_order():
    a = Config(n_features=4, correlated=((4, 1, 0.95),))
    assert a.correlated == ((1, 4, 0.95),)
    assert a == Config(n_features=4, correlated=((1, 4, 0.95),))
    b = Config(n_features=4, correlated=((3, 4, 0.5), (1, 2, 0)))
    assert b.correlated == ((1, 2, 0.0), (3, 4, 0.5))
    assert isinstance(b.correlated[0][2], float)


def test_text_form_parses_and_formats():
    assert parse_correlated("x1~x4:0.95") == ((1, 4, 0.95),)
    assert parse_correlated(" x1 ~ x4 : 0.95 ; x2~x3:-0.5 ") == ((1, 4, 0.95), (2, 3, -0.5))
    assert parse_correlated("x1~x4:0.95,x2~x3:-0.5") == ((1, 4, 0.95), (2, 3, -0.5))
    assert parse_correlated("") == () and parse_correlated("none") == ()
    assert format_correlated(((1, 4, 0.95), (2, 3, -0.5))) == "x1~x4:0.95,x2~x3:-0.5"
    assert format_correlated(()) == ""
    for bad in ["x1-x4:0.9", "x1~x4", "x1~x4:high", "1~4:0.9", "x1~x4:0.9:1", "__import__"]:
        with pytest.raises(ConfigError, match="x1~x4:0.95"):
            parse_correlated(bad)


def test_round_trips_and_cache_key():
    cfg = PRESETS["correlated"]
    assert cfg.to_dict()["correlated"] == "x1~x4:0.95"
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config.from_json(cfg.to_json()) == cfg
    assert Config.from_dict({"n_features": "4", "correlated": [[1, 4, 0.95]]}) == Config(
        n_features=4, correlated=((1, 4, 0.95),)
    )
    plain = cfg.replace(correlated=())
    assert plain.training_id() != cfg.training_id()
    assert cfg.replace(correlated=((1, 4, 0.9),)).training_id() != cfg.training_id()
    assert Config(correlated=()).training_id() == Config().training_id() == "e607bf6a00ed908a"


def test_bad_text_from_a_url_is_a_clear_error():
    with pytest.raises(ConfigError) as err:
        Config.from_dict({"correlated": "x1~x9:0.5"})
    assert err.value.knob == "correlated" and "x9" in str(err.value)


# --------------------------------------------------------------------------- the pages


def test_url_round_trip_of_correlated_pairs():
    from rnnviz.ui import state

    cfg = PRESETS["correlated"]
    params = state.config_to_params(cfg)
    assert params["correlated"] == "x1~x4:0.95"
    assert state.config_from_params(params) == (cfg, None)
    config, message = state.config_from_params({"correlated": "x1~x4:2"})
    assert config == Config() and "correlated" in message


def test_setup_page_refuses_bad_pairs_and_trains_good_ones(app_cache):
    from rnnviz.ui import state

    from apptools import TINY, assert_clean, make_app, shown

    at = make_app(TINY).run()
    assert_clean(at)
    box = at.text_input(key="setup_correlated")
    assert box.value == "" and "x1~x4:0.95" in box.help
    box.input("x1~x9:0.5").run()
    assert not at.exception
    assert any("correlated" in shown(e.value) and "x9" in shown(e.value) for e in at.error)
    at.text_input(key="setup_correlated").input("x1~x2 = 0.5").run()
    assert any("x1~x4:0.95" in shown(e.value) for e in at.error)
    at.text_input(key="setup_correlated").input("x3~x1:0.8").run()
    assert_clean(at)
    (train_button,) = [b for b in at.button if b.label.startswith("Train this experiment")]
    train_button.click().run()
    assert_clean(at)
    assert at.session_state[state.CONFIG_KEY].correlated == ((1, 3, 0.8),)
    assert at.query_params["correlated"] == "x1~x3:0.8"


def test_correlated_credit_does_not_say_only_when_the_rule_reads_more():
    # the thread's rule reads x1 and x2; x3 is a near-copy of x1
    from rnnviz.report.readings import correlated_credit

    text = correlated_credit(((1, 3, 0.9),), frozenset({0, 1}))
    assert "reads x1 only" not in text
    assert "of these two the rule reads x1, not x3" in text


def test_features_page_explains_shared_credit(app_cache):
    from apptools import TINY, assert_clean, make_app

    params = {**TINY, "rule": "threshold", "n_features": "4", "correlated": "x1~x4:0.95"}
    at = make_app(params, page="features").run()
    assert_clean(at)
    (note,) = [i.value for i in at.info if "share credit" in i.value]
    assert "x1 and x4 are correlated" in note and "the rule reads x1, not x4" in note
    assert "Whatever effect x4 shows" in note
    at = make_app(TINY, page="features").run()  # independent features: no such note
    assert_clean(at)
    assert not any("share credit" in i.value for i in at.info)


def test_features_page_on_the_threads_rule_with_a_copy_of_x1(app_cache):
    """The thread's rule reads x1 and x2; x3 copies x1: the note must not say "x1 only", and the
    interactions are read against the noise floor, with the colours anchored to the bars."""
    import json

    from apptools import TINY, assert_clean, charts, make_app

    at = make_app({**TINY, "correlated": "x1~x3:0.9"}, page="features").run()
    assert_clean(at)
    (note,) = [i.value for i in at.info if "share credit" in i.value]
    assert "reads x1 only" not in note
    assert "of these two the rule reads x1, not x3" in note
    markdown = "\n".join(m.value for m in at.markdown)
    assert "beyond the sum of their single nudges" not in markdown
    assert "noise floor" in markdown  # the reading says what the pairs are judged against
    heat = next(c for c in charts(at) if "Do features combine?" in c.proto.spec)
    trace = json.loads(heat.proto.spec)["data"][0]
    bars = next(c for c in charts(at) if c is not heat)
    heights = [y for t in json.loads(bars.proto.spec)["data"] if t.get("type") == "bar"
               for y in t["y"]]  # fmt: skip
    assert trace["zmax"] >= max(heights) - 1e-9  # the scale reaches the largest single effect
