"""Pairwise interactions on functions whose answer can be worked out by hand, and the rule's own
interacting pairs read off its tree."""

import json

import numpy as np
import pytest

from rnnviz.attr.interactions import interaction_importance
from rnnviz.attr.scoring import perturbation_importance
from rnnviz.data.truth import interacting_pairs
from rnnviz.rules import parse_rule

SIGMA = 0.2
N, T, F = 400, 10, 3


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(0).random((N, T, F), dtype=np.float32)


def _sum(x: np.ndarray) -> np.ndarray:
    return x[:, :, 0] + x[:, :, 1]


def _product(x: np.ndarray) -> np.ndarray:
    return x[:, :, 0] * x[:, :, 1]


def _only_x1(x: np.ndarray) -> np.ndarray:
    return x[:, :, 0]


def _noise(seed: int, repeat: int, shape) -> np.ndarray:
    """The documented draw: repeat r's per-feature noise, as perturbation_importance draws it."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, repeat]))
    return rng.standard_normal(shape, dtype=np.float32) * SIGMA


def test_additive_function_has_no_interaction(x):
    r = interaction_importance(_sum, x, sigma=SIGMA, n_repeats=3, seed=1)
    off = ~np.eye(F, dtype=bool)
    # Δ12 − Δ1 − Δ2 = (ε1 + ε2) − ε1 − ε2: zero up to float32 rounding of the model's sums.
    assert np.all(r.importances[:, off] < 1e-6)
    # ... while each feature alone moves the output by its noise (RMS about σ)
    assert r.single_mean[:2] == pytest.approx([SIGMA, SIGMA], rel=0.05)
    assert r.single_mean[2] == 0.0


def test_product_interacts_by_the_cross_term_eps1_eps2(x):
    seed, repeats = 3, 3
    r = interaction_importance(_product, x, sigma=SIGMA, n_repeats=repeats, seed=seed)
    for rep in range(repeats):
        eps = _noise(seed, rep, (F, N, T)).astype(np.float64)
        # (x1+ε1)(x2+ε2) − x1x2 − ε1x2 − x1ε2 = ε1ε2 exactly, element by element
        expected = np.sqrt(np.mean((eps[0] * eps[1]) ** 2))
        assert r.importances[rep, 0, 1] == pytest.approx(expected, rel=1e-4)
        assert r.importances[rep, 1, 0] == r.importances[rep, 0, 1]
    # E[(ε1ε2)²] = σ⁴, so the RMS tends to σ². Var[(ε1ε2)²] = 9σ⁸ − σ⁸ = 8σ⁸: over N·T = 4,000
    # draws the mean square has relative sd √(8/4000) ≈ 4.5%, the RMS about half that (2.2%);
    # 10% is more than 4 sd.
    assert r.importances_mean[0, 1] == pytest.approx(SIGMA**2, rel=0.1)
    assert r.importances_mean[0, 2] == 0.0 and r.importances_mean[1, 2] == 0.0


def test_one_feature_function_has_no_pair(x):
    r = interaction_importance(_only_x1, x, sigma=SIGMA, n_repeats=2, seed=0)
    off = ~np.eye(F, dtype=bool)
    assert np.all(r.importances[:, off] == 0.0)
    assert np.all(r.importances_std[off] == 0.0)


def test_diagonal_is_missing_and_the_matrix_symmetric(x):
    r = interaction_importance(_product, x, sigma=SIGMA, n_repeats=2, seed=0, names=("a", "b", "c"))
    assert r.importances.shape == (2, F, F)
    assert np.isnan(np.diagonal(r.importances, axis1=1, axis2=2)).all()
    assert np.isnan(np.diag(r.importances_mean)).all()
    off = ~np.eye(F, dtype=bool)
    np.testing.assert_array_equal(r.importances_mean[off], r.importances_mean.T[off])
    assert r.feature_names == ("a", "b", "c")
    assert r.strongest() == (0, 1, pytest.approx(r.importances_mean[0, 1]))


def test_singles_equal_the_perturbation_scores_with_the_same_seed(x):
    """The singles use the very draws of perturbation_importance: the bars' numbers."""
    r = interaction_importance(_product, x, sigma=SIGMA, n_repeats=3, seed=5)
    p = perturbation_importance(_product, x, sigma=SIGMA, n_repeats=3, seed=5, per_step=False)
    np.testing.assert_allclose(r.single, p.importances.T, rtol=1e-12)


def test_masked_outputs_count_in_nothing(x):
    def wild_early(z: np.ndarray) -> np.ndarray:
        out = _product(z).copy()
        out[:, :2] = 1000 * z[:, :2, 0] * z[:, :2, 2]  # undefined outputs: anything at all
        return out

    valid = np.broadcast_to(np.arange(T) >= 2, (N, T))
    a = interaction_importance(_product, x, sigma=SIGMA, n_repeats=2, seed=2, valid=valid)
    b = interaction_importance(wild_early, x, sigma=SIGMA, n_repeats=2, seed=2, valid=valid)
    np.testing.assert_array_equal(a.importances, b.importances)
    assert b.importances_mean[0, 2] == 0.0
    eps = _noise(2, 0, (F, N, T)).astype(np.float64)[:, :, 2:]
    expected = np.sqrt(np.mean((eps[0] * eps[1]) ** 2))
    assert a.importances[0, 0, 1] == pytest.approx(expected, rel=1e-4)


def test_chunking_changes_no_number_and_calls_are_batched(x):
    calls = []

    def counted(z: np.ndarray) -> np.ndarray:
        calls.append(len(z))
        return _product(z)

    whole = interaction_importance(counted, x, sigma=SIGMA, n_repeats=2, seed=4)
    # 3 singles + 3 pairs per repeat in a single call each, the originals in the first one
    assert calls == [7 * N, 6 * N]
    small = interaction_importance(_product, x, sigma=SIGMA, n_repeats=2, seed=4, max_values=N * T)
    np.testing.assert_array_equal(whole.importances, small.importances)


def test_to_dict_is_plain_json(x):
    r = interaction_importance(_product, x, sigma=SIGMA, n_repeats=2, seed=0)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["features"] == ["x1", "x2", "x3"]
    assert d["importances_mean"][0][0] is None  # the diagonal: no pair
    assert d["importances_mean"][0][1] == pytest.approx(r.importances_mean[0, 1])
    assert d["strongest"]["pair"] == ["x1", "x2"]
    assert len(d["importances"]) == 2


def test_rejects_bad_inputs(x):
    with pytest.raises(ValueError, match="at least 2 features"):
        interaction_importance(_only_x1, x[:, :, :1], sigma=SIGMA, n_repeats=1)
    with pytest.raises(ValueError, match="sigma"):
        interaction_importance(_product, x, sigma=0.0, n_repeats=1)


# --------------------------------------------------------------------------- the rule's pairs


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("x1 * x2 < 0.25", {(0, 1): "x1 * x2"}),
        ("x1 > 0.5", {}),
        ("mean(x2, 3) > 0.5", {}),
        ("x1[t-1] * x1 > 0.2", {}),  # one feature at two lags: no pair of features
        ("x1 + x2 > 1", {(0, 1): "x1 + x2 > 1"}),  # a sum, thresholded: they meet at the >
        ("x1 > x2", {(0, 1): "x1 > x2"}),
        ("x1 > 0.5 and x2 > 0.5", {(0, 1): "x1 > 0.5 and x2 > 0.5"}),
        ("(x1 + x2) * 2 > 1", {(0, 1): "(x1 + x2) * 2 > 1"}),  # scaling by a number is additive
        ("x1[t-1] * x3 > 0.25", {(0, 2): "x1[t-1] * x3"}),
        (
            "x1 * x2 > 0.1 and x3 > 0.5",
            {
                (0, 1): "x1 * x2",
                (0, 2): "x1 * x2 > 0.1 and x3 > 0.5",
                (1, 2): "x1 * x2 > 0.1 and x3 > 0.5",
            },
        ),
        ("max(x1, x3) > 0.5", {(0, 2): "max(x1, x3)"}),
    ],
)
def test_interacting_pairs_of_a_rule(rule, expected):
    from rnnviz.ui.text import md_code

    found = interacting_pairs(parse_rule(rule))
    assert found == expected
    # the reading quotes a pair's node as a plain code span: literal, as md_code would make it
    assert all(md_code(where) == f"`{where}`" for where in found.values())


# --------------------------------------------------------------------------- plot and reading


def test_heatmap_draws_the_means_and_stars_the_rules_pairs(x):
    from rnnviz.report.plots import interaction_heatmap

    r = interaction_importance(_product, x, sigma=SIGMA, n_repeats=2, seed=0)
    fig = interaction_heatmap(r, {(1, 0)})
    heat = fig.data[0]
    z = np.asarray(heat.z, dtype=float)
    assert np.isnan(np.diag(z)).all()
    off = ~np.eye(F, dtype=bool)
    np.testing.assert_allclose(z[off], r.importances_mean[off])
    starred = {(i, j) for i in range(F) for j in range(F) if "★" in heat.text[i][j]}
    assert starred == {(0, 1), (1, 0)}
    assert "★" not in str(interaction_heatmap(r).data[0].text)


def test_reading_names_the_strongest_pair_with_its_numbers(x):
    from rnnviz.report.readings import interaction_reading

    r = interaction_importance(_product, x, sigma=SIGMA, n_repeats=2, seed=0)
    text = interaction_reading(r, {(0, 1): "x1 * x2"})
    m = r.importances_mean[0, 1]
    assert "x1 and x2" in text and f"{m:.4f}" in text
    assert f"{r.single_mean[0]:.4f}" in text and f"{r.single_mean[1]:.4f}" in text
    assert "x1 * x2" in text
    flat = interaction_reading(interaction_importance(_sum, x, sigma=SIGMA, n_repeats=1), {})
    assert "no pair" in flat.lower()


# --------------------------------------------------------------------------- a trained model


def test_cli_json_has_the_interaction_matrix_and_the_rules_pairs(capsys):
    from rnnviz.cli import main

    tiny = ["--n-train", "300", "--n-val", "100", "--n-score", "30", "--epochs", "1"]
    assert main([*tiny, "--seq-len", "5", "--n-repeats", "2", "--json", "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)
    inter = data["interactions"]
    assert inter["features"] == ["x1", "x2", "x3"]
    assert len(inter["importances"]) == 2 and inter["importances_mean"][1][1] is None
    assert inter["rule_pairs"] == [{"pair": ["x1", "x2"], "meet_in": "x1 * x2"}]
    # the singles are the per-feature bars' numbers (same seed, draws and counted outputs)
    np.testing.assert_allclose(inter["single_mean"], data["scores"]["importances_mean"])


def test_interactions_are_kept_beside_the_model_per_scoring_knobs(tmp_path):
    from rnnviz.config import Config
    from rnnviz.experiment import explain_interactions
    from rnnviz.serve.store import ModelStore

    config = Config(seq_len=5, n_train=300, n_val=100, n_score=30, epochs=1, n_repeats=2)
    store = ModelStore(tmp_path)
    found = explain_interactions(store.get_or_train(config), config)
    store.put_interactions(config, found)
    assert store.get_interactions(config.replace(sigma=0.5)) is None
    back = ModelStore(tmp_path).get_interactions(config)
    assert back.feature_names == found.feature_names and back.sigma == found.sigma
    np.testing.assert_array_equal(back.importances, found.importances)
    np.testing.assert_array_equal(back.single, found.single)
    assert store.get_scores(config) is None  # a file of its own, never read as scores


def test_features_page_shows_whether_features_combine(tmp_path_factory):
    from apptools import TINY, assert_clean, charts, make_app, private_cache

    cache_fixture = private_cache(tmp_path_factory)
    next(cache_fixture)
    try:
        at = make_app(TINY, page="features").run()
        assert_clean(at)
        assert any("Do features combine?" in m.value for m in at.markdown)
        assert any("Strongest pair" in m.value or "No pair" in m.value for m in at.markdown)
        assert len(charts(at)) == 2
        at.run()  # a rerun reads the cached interactions
        assert_clean(at)
    finally:
        next(cache_fixture, None)
