"""Planted evidence (rnnviz.data.boxes): the benchmark's three boxes as a family of data.

Shapes, balanced labels, the shift exactly +-1 inside the box and 0 outside (against the seeded
N(0, 1) draw), one counted output per sequence, the truth equal to the box at the (feature,
step) grain, determinism per seed, the presets, CLI and cache key, and the box outlined on the
feature x step maps.
"""

import numpy as np
import pytest

from rnnviz.config import (
    BOX_NAMES,
    DATA_KINDS,
    PRESETS,
    Config,
    ConfigError,
)
from rnnviz.data import boxes
from rnnviz.data.base import DataError
from rnnviz.data.source import BoxSource, source_of
from rnnviz.data.truth import lag_truth_mask, map_auc, score_method
from rnnviz.serve.hosting import HOSTED_BOUNDS

# The box presets with few sequences: the data's shape is the benchmark's (50 x 50).
SMALL = {
    name: PRESETS[f"box-{name}"].replace(n_train=60, n_val=50, n_score=20) for name in BOX_NAMES
}

# The paper's boxes (createDatasets.py): (first step, last step, first feature, last feature).
PAPER = {"middle": (10, 39, 10, 39), "raretime": (22, 27, 5, 44), "rarefeature": (5, 44, 22, 27)}


def test_the_boxes_are_the_papers():
    for name, (s0, s1, f0, f1) in PAPER.items():
        assert boxes.BOXES[name].rect == (s0, s1 + 1, f0, f1 + 1)
    assert boxes.BOXES["raretime"].n_cells == 6 * 40 == boxes.BOXES["rarefeature"].n_cells


@pytest.mark.parametrize("name", BOX_NAMES)
def test_splits_have_the_benchmarks_shape_and_one_counted_output(name):
    source = source_of(SMALL[name])
    assert isinstance(source, BoxSource)
    for split, n in (("train", 60), ("val", 50), ("score", 20)):
        data = source.split(split)
        assert data.x.shape == (n, 50, 50) and data.x.dtype == np.float32
        assert data.y.shape == data.valid.shape == (n, 50)
        assert data.valid[:, -1].all() and not data.valid[:, :-1].any()
        assert not data.y[:, :-1].any()  # no label where nothing counts


@pytest.mark.parametrize("n", [60, 61, 1000])
def test_labels_are_balanced(n):
    labels = boxes.draw_labels(n, seed=3)
    assert set(np.unique(labels)) == {0.0, 1.0}
    assert labels.sum() == n // 2


@pytest.mark.parametrize("name", BOX_NAMES)
def test_the_shift_is_exactly_one_inside_the_box_and_zero_outside(name):
    box = boxes.BOXES[name]
    data = boxes.generate(box, 40, 50, 50, seed=11)
    noise = boxes.draw_noise(40, 50, 50, seed=11)
    sign = (2.0 * data.y[:, -1] - 1.0).astype(np.float32)
    inside = np.zeros((50, 50), bool)
    inside[box.steps, box.features] = True
    assert set(np.unique(sign)) == {-1.0, 1.0}
    # outside the box: the seeded draw itself; inside: the draw plus exactly +1 or -1
    assert np.array_equal(data.x[:, ~inside], noise[:, ~inside])
    assert np.array_equal(data.x[:, inside], noise[:, inside] + sign[:, None])
    assert not np.array_equal(data.x[:, inside], noise[:, inside] - sign[:, None])
    # the box holds the label: its mean separates the classes, the rest of the data does not
    box_mean = data.x[:, box.steps, box.features].mean(axis=(1, 2))
    assert ((box_mean > 0) == (data.y[:, -1] == 1)).all()


def test_noise_is_standard_normal():
    noise = boxes.draw_noise(400, 50, 50, seed=0)
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 1.0) < 0.01


@pytest.mark.parametrize("name", BOX_NAMES)
def test_same_seed_same_data_other_seed_other_data(name):
    a, b = source_of(SMALL[name]), source_of(SMALL[name])
    c = source_of(SMALL[name].replace(seed=1))
    for split in ("train", "val", "score"):
        assert np.array_equal(a.split(split).x, b.split(split).x)
        assert np.array_equal(a.split(split).y, b.split(split).y)
    assert not np.array_equal(a.split("train").x, c.split("train").x)
    assert not np.array_equal(a.split("train").x, a.split("val").x)  # one stream a split


@pytest.mark.parametrize("name", BOX_NAMES)
def test_the_truth_is_the_box(name):
    box = boxes.BOXES[name]
    truth = source_of(SMALL[name]).truth
    expected = np.zeros((50, 50), bool)
    expected[box.features, box.steps] = True  # (feature, step), the maps' orientation
    assert np.array_equal(truth.mask, expected)
    assert truth.features == frozenset(range(box.feature_start, box.feature_stop))
    assert truth.rect == box.rect
    # one output, at step 49: input step s acts at lag 49 - s, so the lag grain is the box
    lags = lag_truth_mask(truth.ground_truth, 50, 50)
    assert np.array_equal(lags[:, ::-1], expected)


def test_truth_scores_read_the_box_at_the_cell_grain():
    truth = source_of(SMALL["raretime"]).truth
    perfect = truth.mask.astype(float)  # (F, T): 1 inside the box
    assert map_auc(perfect, truth.mask) == 1.0
    assert map_auc(1.0 - perfect, truth.mask) == 0.0
    # the lag grain of score_method sees the same map (lag = 49 - step)
    scores = score_method(perfect.mean(axis=1), perfect[:, ::-1], truth.ground_truth)
    assert scores["lag_auc"] == 1.0 and scores["aupr"] == 1.0
    assert scores["feature_auc"] == 1.0


def test_a_map_pointing_at_the_last_steps_scores_below_chance():
    # worked by hand: 150 non-box cells (the last 3 steps) outrank the 240 box cells, the
    # other 2110 non-box cells tie with them: AUC = 2110 * 0.5 / 2260
    truth = source_of(SMALL["raretime"]).truth
    last_steps = np.zeros((50, 50))
    last_steps[:, -3:] = 1.0
    assert map_auc(last_steps, truth.mask) == pytest.approx(2110 * 0.5 / 2260)


def test_the_rule_is_not_a_knob_of_box_data():
    a, b = SMALL["middle"], SMALL["middle"].replace(rule="x1 > 0.5")
    assert a.training_id() == b.training_id()
    assert source_of(a).rule is None


def test_each_box_is_its_own_cache_entry():
    ids = {PRESETS[f"box-{name}"].training_id() for name in BOX_NAMES}
    assert len(ids) == 3
    assert all(PRESETS[f"box-{n}"].training_key() != Config().training_key() for n in BOX_NAMES)


def test_the_kind_raises_the_feature_cap_for_this_family_only():
    assert PRESETS["box-raretime"].n_features == 50
    with pytest.raises(ConfigError, match="n_features"):
        Config(n_features=50)  # rule-made data keeps the cap of 20
    with pytest.raises(ConfigError, match="n_features = 20.*50"):
        PRESETS["box-middle"].replace(n_features=20)  # the box is the benchmark's shape
    with pytest.raises(ConfigError, match="seq_len"):
        PRESETS["box-middle"].replace(seq_len=40)
    with pytest.raises(ConfigError, match="input_scaling"):
        PRESETS["box-middle"].replace(input_scaling=True)  # N(0, 1) already
    # hosted mode does not raise it: 50 features are beyond what it can afford
    with pytest.raises(ConfigError, match="n_features = 50.*1 to 8"):
        PRESETS["box-raretime"].validate(HOSTED_BOUNDS)


def test_presets_are_the_papers_sizes():
    for name in BOX_NAMES:
        config = PRESETS[f"box-{name}"]
        kind = DATA_KINDS[config.dataset]
        assert kind.presets == {"rain": f"box-{name}"}
        assert (config.seq_len, config.n_features, config.n_train, config.n_score) == (
            50,
            50,
            1000,
            100,
        )
        assert config.units == (20,)


def test_a_box_that_does_not_fit_says_what_to_change():
    with pytest.raises(DataError, match="at least 45 steps and 28 features"):
        boxes.generate(boxes.BOXES["rarefeature"], 5, 30, 50, seed=0)


def test_the_url_round_trips_a_box_config():
    from rnnviz.ui.state import config_from_params, config_to_params

    config = PRESETS["box-rarefeature"].replace(seed=4)
    back, error = config_from_params(config_to_params(config))
    assert error is None and back == config


def test_the_cli_starts_from_the_box_preset():
    from rnnviz.cli import build_parser, make_config

    config = make_config(build_parser().parse_args(["--dataset", "box-raretime", "--seed", "2"]))
    assert config == PRESETS["box-raretime"].replace(seed=2)


def test_the_box_is_outlined_on_the_feature_by_step_maps():
    from rnnviz.attr.attribution import Attribution
    from rnnviz.report import plots

    truth = source_of(SMALL["raretime"]).truth
    rng = np.random.default_rng(0)
    attribution = Attribution(
        "saliency", [f"x{i + 1}" for i in range(50)], rng.random((50, 1)), rng.random((50, 50, 1))
    )
    fig = plots.cell_map(attribution, box=truth.rect)
    outlines = [s for s in fig.layout.shapes if s.name == plots.BOX_SHAPE_NAME]
    assert len(outlines) == 1
    s0, s1, f0, f1 = truth.rect
    shape = outlines[0]
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (s0 - 0.5, s1 - 0.5, f0 - 0.5, f1 - 0.5)
    assert "planted box" in fig.layout.title.subtitle.text
    # no box, no outline
    assert not [s for s in plots.cell_map(attribution).layout.shapes if s.name]


# --------------------------------------------------------------------------- the pages


@pytest.fixture(scope="module")
def app_cache(tmp_path_factory):
    from apptools import private_cache

    gen = private_cache(tmp_path_factory)
    yield next(gen)
    next(gen, None)


def test_the_pages_open_a_box_experiment_and_outline_the_box(app_cache):
    from rnnviz.report import plots
    from rnnviz.ui import state

    from apptools import assert_clean, go, make_app

    config = SMALL["raretime"].replace(n_train=100, n_score=10, epochs=1)
    at = make_app(state.config_to_params(config), page="features").run()
    assert_clean(at)
    text = " ".join(m.value for m in (*at.markdown, *at.caption, *at.success, *at.info))
    assert "box" in text and "steps 22–27" in text
    verdicts = [e.value for e in (*at.success, *at.info, *at.warning)]
    assert not any("persistence" in v for v in verdicts)  # not judged like a real series

    at = go(at, "timesteps")
    assert_clean(at)
    heatmap = at.get("plotly_chart")[0].proto.spec
    assert plots.BOX_SHAPE_NAME in heatmap and "planted box" in heatmap

    at = go(at, "compare")
    assert_clean(at)
    for page in ("learn", "setup"):
        at = go(at, page)
        assert_clean(at)


def test_the_setup_page_offers_the_boxes_with_their_shape(app_cache):
    from rnnviz.ui import text

    from apptools import assert_clean, make_app

    at = make_app({"seq_len": "5", "n_train": "300", "n_val": "100", "epochs": "1"}).run()
    assert_clean(at)
    at.radio(key="setup_dataset").set_value("box-rarefeature").run()
    assert_clean(at)
    labels = {w.label for w in (*at.number_input, *at.text_input, *at.radio, *at.checkbox)}
    assert "Target rule" not in labels and "Scale inputs" not in labels  # no rule, N(0, 1)
    assert "Sequence length (steps)" not in labels  # the benchmark's 50 x 50
    assert any(text.PLANTED_HELP in i.value for i in at.info)
    assert any("steps 5–44 of x23–x28" in s.value for s in at.success)  # the ground truth
    assert at.number_input(key="setup_n_train").value == 1000  # the preset's recipe
    (button,) = [b for b in at.button if b.label == "Train this experiment"]
    assert not button.disabled  # a valid draft
