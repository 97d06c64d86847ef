"""Config: bounds with clear messages, hashing, and round trips through dict/JSON/URL strings."""

import json

import pytest

from rnnviz.config import (
    DEFAULT_BOUNDS,
    PRESETS,
    Bounds,
    Config,
    ConfigError,
    correlated_problem,
    describe_changes,
    describe_model,
)
from rnnviz.rules import RuleError

INT_KNOBS = [
    "seq_len",
    "n_features",
    "n_train",
    "n_val",
    "n_score",
    "n_repeats",
    "epochs",
    "batch_size",
    "patience",
    "seed",
]


@pytest.mark.parametrize("knob", INT_KNOBS)
def test_int_knobs_at_and_beyond_their_bounds(knob):
    lo, hi = getattr(DEFAULT_BOUNDS, knob)
    # small sizes keep the combined bounds out of the way; a one-feature rule fits F = 1
    base = dict(n_train=100, epochs=1, rule="threshold")
    for ok in (lo, hi):
        assert getattr(Config(**{**base, knob: ok}), knob) == ok
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ConfigError) as err:
            Config(**{knob: bad})
        assert err.value.knob == knob
        assert str(bad) in str(err.value) and f"from {lo} to {hi}" in str(err.value)


def test_float_knobs_bounds():
    assert Config(sigma=5.0).sigma == 5.0
    for bad in (0.0, -0.1, 5.01, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="sigma"):
            Config(sigma=bad)
    with pytest.raises(ConfigError, match="learning_rate"):
        Config(learning_rate=2.0)


def test_model_shape_knobs():
    assert Config(units=(8,), activations=("relu",)).units == (8,)
    with pytest.raises(ConfigError, match="1 to 3 LSTM layer sizes"):
        Config(units=(4, 4, 4, 4), activations=("tanh",) * 4)
    with pytest.raises(ConfigError, match="one activation per layer"):
        Config(units=(8, 4), activations=("relu",))
    with pytest.raises(ConfigError, match="one of tanh"):
        Config(activations=("tanh", "swish"))
    with pytest.raises(ConfigError, match="head"):
        Config(head="conv")
    with pytest.raises(ConfigError, match="units"):
        Config(units=(0, 4))


def test_combined_size_and_work_bounds_name_what_to_change():
    with pytest.raises(ConfigError, match="n_train x seq_len x n_features"):
        Config(n_train=20000, seq_len=200, n_features=20, epochs=1)
    with pytest.raises(ConfigError, match="epochs x n_train x seq_len"):
        Config(n_train=20000, seq_len=200, n_features=1, epochs=100)


def test_rule_is_checked_against_features_and_length():
    with pytest.raises(RuleError, match="x4 does not exist"):
        Config(rule="x4 > 0.5")
    with pytest.raises(RuleError, match="reaches 2 steps back"):
        Config(rule="lagged", seq_len=2)
    assert Config(rule="x1[t-2] * x3 > 0.3").target().ground_truth == {(0, 2), (2, 0)}


def test_hashable_and_training_key_ignores_scoring_knobs():
    a, b = Config(), Config(sigma=0.5, n_repeats=9, n_score=100)
    assert len({a, Config()}) == 1
    assert a.training_key() == b.training_key() and a.training_id() == b.training_id()
    assert a.training_id() != Config(seed=1).training_id()
    assert a.training_id() != Config(rule="lagged").training_id()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_round_trips(name):
    cfg = PRESETS[name]
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config.from_json(cfg.to_json()) == cfg
    url = {
        k: ",".join(map(str, v)) if isinstance(v, list) else str(v)
        for k, v in cfg.to_dict().items()
    }
    assert Config.from_dict(url) == cfg  # every value as a URL string


def test_untrusted_values_are_clear_errors():
    for data, knob in [
        ({"seq_len": "ten"}, "seq_len"),
        ({"seq_len": True}, "seq_len"),
        ({"sigma": "inf"}, "sigma"),
        ({"input_scaling": "maybe"}, "input_scaling"),
        ({"rule": 5}, "rule"),
        ({"rule": "x" * 1000}, "rule"),
        ({"units": "1,2,3,4,5,6,7,8,9,10,11"}, "units"),
        ({"hack": "1"}, "hack"),
    ]:
        with pytest.raises(ConfigError) as err:
            Config.from_dict(data)
        assert err.value.knob == knob
    with pytest.raises(ConfigError, match="valid JSON"):
        Config.from_json("{not json")
    with pytest.raises(ConfigError, match="JSON object"):
        Config.from_json(json.dumps([1, 2]))


def test_tighter_bounds_reject_what_defaults_allow():
    hosted = Bounds(seq_len=(2, 50))
    cfg = Config(seq_len=100)
    assert cfg.validate() is cfg
    with pytest.raises(ConfigError, match="from 2 to 50"):
        cfg.validate(hosted)


def test_reference_preset_is_the_threads_recipe():
    ref = PRESETS["reference"]
    assert (ref.units, ref.activations, ref.head) == ((10, 5), ("relu", "relu"), "lstm")
    assert (ref.batch_size, ref.learning_rate, ref.seed) == (5, 0.001, 2019)
    assert ref.n_train // ref.batch_size * ref.epochs == 5000  # batch 5 x 5,000 steps
    assert (ref.seq_len, ref.n_features, ref.sigma, ref.n_score) == (10, 3, 0.2, 250)


def test_layer_sizes_are_whole_numbers_never_truncated():
    assert Config.from_dict({"units": [10.0, 5]}).units == (10, 5)  # integral floats: JSON
    assert Config.from_dict({"units": "10, 5"}).units == (10, 5)  # a URL's text
    for bad in ([10, 5.5], [10, True], [float("inf")], "10,5.5", [[10]], {"a": 1}, 5):
        with pytest.raises(ConfigError) as err:
            Config.from_dict({"units": bad})
        assert err.value.knob == "units" and "whole numbers" in str(err.value)
    with pytest.raises(ConfigError) as err:
        Config.from_dict({"activations": ["tanh", 1]})
    assert err.value.knob == "activations"


def test_settings_json_is_read_without_recursion_or_huge_numbers():
    deep = '{"seed": 1, "units": ' + "[" * 50_000 + "]" * 50_000 + "}"
    with pytest.raises(ConfigError, match="nested more than 4 levels deep") as err:
        Config.from_json(deep)
    assert err.value.knob == "units" and len(str(err.value)) < 200
    with pytest.raises(ConfigError, match="seed = a number of 5000 digits") as err:
        Config.from_json('{"seed": ' + "9" * 5000 + "}")
    # strings may hold brackets, and the deepest real setting still reads
    text = (
        '{"rule": "x1 > 0.5", "correlated": [[1, 3, 0.5]], "units": [4], "activations": ["relu"]}'
    )
    cfg = Config.from_json(text)
    assert cfg.correlated == ((1, 3, 0.5),) and cfg.units == (4,)
    assert Config.from_json('{"rule": "x1[t-1] > 0.5"}').rule == "x1[t-1] > 0.5"
    with pytest.raises(ConfigError) as err:
        Config.from_dict({"seed": 1, "k" * 500: 1})
    assert len(err.value.knob) < 50 and "unknown setting" in str(err.value)


def test_the_model_is_described_with_its_cell():
    assert describe_model(Config()) == "LSTM 10 → 5 (tanh, tanh), dense head"
    assert describe_model(Config(cell="gru", units=(8,), activations=("relu",))) == (
        "GRU 8 (relu), dense head"
    )
    assert describe_model(Config(cell="simple_rnn")).startswith("simple RNN 10 → 5")
    assert describe_model(Config(cell="bilstm")).startswith(
        "bidirectional LSTM 10 → 5 per direction"
    )
    assert describe_model(PRESETS["reference"]) == "LSTM 10 → 5 (relu, relu), 1-unit LSTM head"


def test_changes_name_every_knob_that_changes_the_model_and_no_other():
    base = Config()
    assert describe_changes(base, base.replace(sigma=0.5, n_repeats=2)) == ""  # scoring only
    changed = base.replace(cell="gru", n_train=500, learning_rate=0.01, correlated=((1, 3, 0.9),))
    assert describe_changes(base, changed) == (
        "correlated features none → x1~x3:0.9; training sequences 3,000 → 500; "
        "cell LSTM → GRU; learning rate 0.03 → 0.01"
    )
    assert describe_changes(base, base.replace(rule="lagged")) == (
        "rule x1 * x2 < 0.25 → x1[t-2] > 0.5"
    )
    assert describe_changes(base, PRESETS["seattle-weather"]) == "data synthetic → seattle-weather"


def test_correlated_problems_say_what_to_change():
    assert correlated_problem("x1~x3:0.9", 3) is None and correlated_problem(" ", 3) is None
    assert correlated_problem("x1~x4:0.9", 3) == (
        "x4 is not a feature here: the data has 3 features (x1 to x3). Pick features from x1 "
        "to x3, or add features above."
    )
    assert "pick two different features" in correlated_problem("x1~x1:0.5", 3)
    assert "is not a pair" in correlated_problem("x1 x2", 3)
    # the same check still raises the knob-naming error for links and the command line
    with pytest.raises(ConfigError, match="a feature x1 .. x3"):
        Config(correlated=((1, 4, 0.9),))
