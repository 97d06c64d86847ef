"""Snapshots of reliance during training: hand-worked scoring, even spacing, no effect on the
weights, kept with the cached model, and a final snapshot that agrees with the full scoring."""

import json

import numpy as np
import pytest

from rnnviz.attr.scoring import PerturbationResult
from rnnviz.config import Config
from rnnviz.training.snapshots import (
    SNAPSHOT_TARGET,
    Snapshot,
    snapshot_noise,
    snapshot_scores,
    snapshot_steps,
)

SIGMA = 0.2
N, T, F = 40, 10, 3


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(0).random((N, T, F), dtype=np.float32)


def _only_x1(z: np.ndarray) -> np.ndarray:
    return z[:, :, 0]


def _x1_two_back(z: np.ndarray) -> np.ndarray:
    out = np.zeros(z.shape[:2], dtype=np.float32)
    out[:, 2:] = z[:, :-2, 0]
    return out


def test_f_equals_x1_moves_by_its_own_noise_at_lag_zero(x):
    snap = snapshot_scores(_only_x1, x, sigma=SIGMA, seed=4)
    every, one = (a.astype(np.float64) for a in snapshot_noise(4, N, T, F, SIGMA))
    # every output moves by exactly the noise added to x1 at its step
    assert snap.effects[0] == pytest.approx(np.sqrt(np.mean(every[0] ** 2)), rel=1e-5)
    assert snap.effects[1] == snap.effects[2] == 0.0
    lag0 = T - 1  # column of lag 0
    # sequence k is nudged at step k mod T only: its output there moves by that one draw
    assert snap.by_lag[0, lag0] == pytest.approx(np.sqrt(np.mean(one[0] ** 2)), rel=1e-5)
    others = np.delete(snap.by_lag[0], lag0)
    assert np.all((others == 0.0) | np.isnan(others))
    assert np.nanmax(snap.by_lag[1:]) == 0.0
    assert snap.lags.tolist() == list(range(1 - T, T))


def test_lag_two_peaks_at_lag_two_and_masked_outputs_count_in_nothing(x):
    valid = np.broadcast_to(np.arange(T) >= 2, (N, T))
    snap = snapshot_scores(_x1_two_back, x, valid=valid, sigma=SIGMA, seed=1)
    lags = snap.lags
    assert int(lags[np.nanargmax(snap.by_lag[0])]) == 2
    assert np.all(snap.by_lag[0, (lags != 2) & ~np.isnan(snap.by_lag[0])] == 0.0)


def test_same_noise_for_every_snapshot_and_a_loss_from_the_labels(x):
    y = (x[:, :, 0] > 0.5).astype(np.float32)
    a = snapshot_scores(_only_x1, x, y=y, sigma=SIGMA, seed=2, step=3, epoch=0.5)
    b = snapshot_scores(_only_x1, x, y=y, sigma=SIGMA, seed=2, step=9, epoch=1.5)
    np.testing.assert_array_equal(a.effects, b.effects)
    np.testing.assert_array_equal(a.by_lag, b.by_lag)
    assert a.accuracy == pytest.approx(np.mean((x[:, :, 0] >= 0.5) == (y >= 0.5)))
    assert a.loss is not None and a.loss > 0
    back = Snapshot.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    np.testing.assert_array_equal(back.effects, a.effects)
    np.testing.assert_array_equal(back.by_lag, a.by_lag)
    assert (back.step, back.epoch, back.loss) == (3, 0.5, a.loss)


def test_snapshot_steps_are_evenly_spaced_from_zero_to_the_last_step():
    steps = snapshot_steps(69)
    assert len(steps) == SNAPSHOT_TARGET >= 20
    assert steps[0] == 0 and steps[-1] == 69
    assert set(np.diff(steps)) <= {3, 4}  # 69 / 19 = 3.6
    assert snapshot_steps(5) == [0, 1, 2, 3, 4, 5]


# --------------------------------------------------------------------------- while training


@pytest.fixture(scope="module")
def default_run():
    """The default recipe, with snapshots and progress reports, and without snapshots."""
    from rnnviz.training.fit import train

    reports = []
    with_snaps = train(Config(), reports.append)
    without = train(Config(), snapshots=False)
    return with_snaps, without, reports


def test_default_recipe_takes_at_least_20_evenly_spaced_snapshots(default_run):
    result, _, _ = default_run
    config = result.config
    steps_per_epoch = config.n_train // config.batch_size
    total = result.epochs_run * steps_per_epoch
    taken = [s.step for s in result.snapshots]
    assert len(taken) >= 20
    assert taken == snapshot_steps(config.epochs * steps_per_epoch)[: len(taken)]
    assert taken[-1] == total and taken[0] == 0
    assert max(np.diff(taken)) - min(np.diff(taken)) <= 1  # evenly spaced (rounded)
    assert result.snapshots[0].loss > result.snapshots[-1].loss  # it learned meanwhile
    assert result.snapshots[0].train_loss is None and result.snapshots[-1].train_loss > 0


def test_snapshots_do_not_change_the_weights(default_run):
    a, b, _ = default_run
    assert b.snapshots == ()
    assert a.history == b.history
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_progress_reports_carry_the_newest_snapshot(default_run):
    result, _, reports = default_run
    live = [p.snapshot for p in reports if p.snapshot is not None]
    assert live, "no progress report carried a snapshot"
    steps = [s.step for s in live]
    assert steps == sorted(steps)
    assert {s.step for s in live} <= {s.step for s in result.snapshots}


def test_final_snapshot_ranks_features_as_the_full_scoring_does():
    """On x1 > 0.5 only x1 matters: the last snapshot and the full scoring agree on that."""
    from rnnviz.experiment import explain
    from rnnviz.training.fit import train

    config = Config(rule="threshold", seed=1)
    result = train(config)
    assert result.learned
    last = result.snapshots[-1]
    full = explain(result, config)
    assert int(np.argmax(last.effects)) == int(np.argmax(full.importances_mean)) == 0
    assert last.effects[0] > 5 * max(last.effects[1:])
    # other sequences (the validation split's first) and one draw: close, not equal
    np.testing.assert_allclose(last.effects[0], full.importances_mean[0], rtol=0.35)
    assert int(last.lags[np.nanargmax(last.by_lag[0])]) == 0


# --------------------------------------------------------------------------- kept with the model

TINY = Config(n_train=300, n_val=100, n_score=40, epochs=2, seq_len=6, seed=21)


def test_snapshots_round_trip_through_the_store(tmp_path):
    from rnnviz.serve.store import ModelStore

    trained = ModelStore(tmp_path).get_or_train(TINY)
    assert len(trained.snapshots) >= 2
    back = ModelStore(tmp_path).get(TINY)  # a restarted server: read from disk
    assert back is not None and not back.handle.loaded  # lazily: no model read for this
    assert [s.step for s in back.snapshots] == [s.step for s in trained.snapshots]
    for a, b in zip(trained.snapshots, back.snapshots, strict=True):
        np.testing.assert_array_equal(a.effects, b.effects)
        np.testing.assert_array_equal(a.by_lag, b.by_lag)
        assert (a.loss, a.accuracy, a.train_loss) == (b.loss, b.accuracy, b.train_loss)


def test_an_entry_written_before_snapshots_still_loads(tmp_path):
    import hashlib

    from rnnviz.serve.store import ModelStore

    ModelStore(tmp_path).get_or_train(TINY)
    entry = tmp_path / TINY.training_id()
    meta = json.loads((entry / "meta.json").read_text())
    del meta["snapshots"]  # as older code wrote it
    (entry / "meta.json").write_text(json.dumps(meta))
    check = json.loads((entry / "checksum.json").read_text())
    check["meta.json"] = hashlib.sha256((entry / "meta.json").read_bytes()).hexdigest()
    (entry / "checksum.json").write_text(json.dumps(check))
    old = ModelStore(tmp_path).get(TINY)
    assert old is not None and old.snapshots == ()


def test_cli_json_has_the_snapshots(capsys):
    from rnnviz.cli import main

    tiny = ["--n-train", "300", "--n-val", "100", "--n-score", "30", "--epochs", "2"]
    assert main([*tiny, "--seq-len", "5", "--json", "--quiet"]) == 0
    snaps = json.loads(capsys.readouterr().out)["training"]["snapshots"]
    assert snaps[0]["step"] == 0 and len(snaps) >= 2
    assert len(snaps[-1]["effects"]) == 3 and len(snaps[-1]["by_lag"][0]) == 2 * 5 - 1


# --------------------------------------------------------------------------- plots


def _series(k: int = 5) -> list[Snapshot]:
    out = []
    for i in range(k):
        by_lag = np.zeros((F, 2 * T - 1))
        by_lag[0, T - 1 + 2] = 0.1 * i  # x1's lag-2 peak grows
        out.append(
            Snapshot(
                step=3 * i,
                epoch=i / 4,
                loss=0.7 - 0.1 * i,
                accuracy=0.5 + 0.1 * i,
                train_loss=None if i == 0 else 0.6,
                effects=np.array([0.05 * i, 0.01, 0.0]),
                by_lag=by_lag,
            )
        )
    return out


def test_replay_has_one_frame_per_snapshot_with_its_numbers():
    from rnnviz.report.plots_training import snapshot_replay

    snaps = _series()
    fig = snapshot_replay(snaps, truth={(0, 2)})
    assert [f.name for f in fig.frames] == ["0", "3", "6", "9", "12"]
    assert len(fig.layout.sliders[0].steps) == 5
    third = fig.frames[2]
    np.testing.assert_allclose(third.data[0].y, snaps[2].effects)
    assert list(third.data[1].x) == list(range(T))  # a causal model: lags 0 .. T-1 only
    np.testing.assert_allclose(third.data[1].y[2], 0.2)
    assert list(third.data[-1].x) == [6, 6]  # the step marker
    assert "x1 ★" in list(third.data[0].x)


def test_now_draws_one_snapshot():
    from rnnviz.report.plots_training import snapshot_now

    snap = _series()[-1]
    fig = snapshot_now(snap, truth={(0, 2)})
    np.testing.assert_allclose(fig.data[0].y, snap.effects)
    assert "step 12" in fig.layout.title.text


def _causal(k: int = 3) -> list[Snapshot]:
    """Snapshots of a causal model as a training scores them: the base and the nudged copies
    sit at different rows of one model call, so the negative lags carry float rounding."""
    snaps = _series(k)
    for snap in snaps:
        snap.by_lag[:, : T - 1] = 1.2e-8
    return snaps


def test_negative_lags_drawn_only_for_a_model_that_reads_ahead():
    """As on the Per-timestep page: lags 0 .. T-1 for a causal model (its negative lags are
    zero but for rounding), -(T-1) .. T-1 for a bidirectional one."""
    from rnnviz.report.plots_training import snapshot_now, snapshot_replay

    snaps = _causal()
    causal, both = list(range(T)), list(range(1 - T, T))
    assert list(snapshot_replay(snaps).frames[1].data[1].x) == causal
    assert list(snapshot_replay(snaps, reads_ahead=True).frames[1].data[1].x) == both
    assert list(snapshot_now(snaps[-1]).data[1].x) == causal
    assert list(snapshot_now(snaps[-1], reads_ahead=True).data[1].x) == both


def test_live_view_reads_ahead_for_a_bidirectional_cell_only():
    from types import SimpleNamespace

    from rnnviz.ui.training_view import live

    for cell, first_lag in (("lstm", 0), ("gru", 0), ("bilstm", 1 - T)):
        drawn = []
        placeholder = SimpleNamespace(plotly_chart=lambda fig, drawn=drawn, **kw: drawn.append(fig))
        report = live(placeholder, Config(n_features=F, seq_len=T, cell=cell))
        report(SimpleNamespace(progress=SimpleNamespace(snapshot=_causal()[-1])))
        (fig,) = drawn
        assert fig.data[1].x[0] == first_lag, cell


def _full_scoring(sigma: float, repeats: int, sequences: int, steps: int = T) -> PerturbationResult:
    rng = np.random.default_rng(3)
    response = rng.random((F, steps, steps, repeats))
    for s in range(steps):
        response[:, s, :s, :] = 0.0
    counts = np.full(steps, sequences)
    return PerturbationResult(sigma, ("x1", "x2", "x3"), rng.random((F, repeats)), response, counts)


def test_replay_marks_the_full_scoring_and_says_what_each_scored():
    """The replay's last frame and the Per-timestep page score the same model differently:
    the figure draws the full scoring beside the snapshots and its subtitle gives both
    samples (sequences, repeats, σ: here the σ was changed after the training)."""
    from dataclasses import replace

    from rnnviz.report.plots_training import snapshot_replay

    snaps = [replace(s, sequences=36, sigma=0.2) for s in _causal()]
    full = _full_scoring(sigma=0.5, repeats=2, sequences=250)
    fig = snapshot_replay(snaps, truth={(0, 2)}, final=full)
    subtitle = fig.layout.title.subtitle.text.replace("<br>", " ")
    assert "each on 36 held-out sequences, σ = 0.2, one draw" in subtitle
    assert "○ = full scoring of the final model (250 sequences × 2 repeats, σ = 0.5)" in subtitle
    rings = {t.name: t for t in fig.data if getattr(t, "mode", None) == "markers"}
    bars = rings["full scoring, final model"]
    np.testing.assert_allclose(bars.y, full.importances_mean)
    for f, name in enumerate(("x1", "x2", "x3")):
        lags = rings[f"{name}, full scoring"]
        assert list(lags.x) == list(range(T))
        np.testing.assert_allclose(lags.y, full.by_lag()[f, T - 1 :])
    # the frames animate the snapshots only: the full scoring stays put
    assert all(len(frame.data) == F + 2 for frame in fig.frames)
    assert "full scoring" not in snapshot_replay(snaps).layout.title.subtitle.text


def test_last_frame_is_the_final_model_scored_on_fewer_sequences(default_run):
    """Why the replay's last frame (x2 at lag 0: 0.18 against x1's 0.29 on the default
    experiment) differs from the Per-timestep page (both about 0.30): not other weights (the
    last snapshot is the final model's, scored again here to the same numbers), not another
    σ (the same), but its sample: 36 held-out sequences nudged once. The same estimator on the
    full scoring's sequences, averaged over draws, gives the full scoring's numbers."""
    from rnnviz.data.split import make_split
    from rnnviz.experiment import explain
    from rnnviz.training.snapshots import snapshot_rows

    result, _, _ = default_run
    config = result.config
    val = make_split(config, "val")
    n = snapshot_rows(config.n_features, len(val.x), config.seq_len)
    again = snapshot_scores(
        result.predict,
        val.x[:n],
        y=val.y[:n],
        valid=val.valid[:n],
        sigma=config.sigma,
        seed=config.seed,
    )
    last = result.snapshots[-1]
    np.testing.assert_allclose(last.effects, again.effects, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(last.by_lag, again.by_lag, rtol=1e-4, atol=1e-7)
    assert (last.sequences, last.sigma) == (n, config.sigma) and n == 36

    full = explain(result)  # the Per-timestep page's numbers
    lag0 = config.seq_len - 1
    exact = full.by_lag()[:2, lag0]  # x1 and x2 at lag 0
    assert abs(exact[0] - exact[1]) < 0.05  # x1 · x2: the two alike
    score = make_split(config, "score")

    def draws(x, valid, k=8):
        return np.array(
            [
                snapshot_scores(result.predict, x, valid=valid, sigma=config.sigma, seed=s).by_lag
                for s in range(k)
            ]
        )[:, :2, lag0]

    pooled = draws(score.x, score.valid)
    np.testing.assert_allclose(pooled.mean(axis=0), exact, rtol=0.1)  # the same quantity
    small = draws(val.x[:n], val.valid[:n])  # the snapshot's own sample size
    spread = small.std(axis=0)
    assert np.all(np.abs(last.by_lag[:2, lag0] - exact) < 3 * spread)  # within its noise
    assert spread[1] > 0.03  # so a last frame can miss the full scoring by a few hundredths


def test_replay_reading_says_when_each_feature_rose():
    from rnnviz.report.readings import replay_reading

    text = replay_reading(_series(), {0})
    # x1 ends at 0.2: half of it (0.1) is first reached at step 6; x2 ends at 0.01, x3 at 0
    assert "x1 after step 6 (final 0.200)" in text
    assert "x2 (0.010)" in text and "x3 (0.000)" in text
    assert "The rule reads x1." in text
    # the one criterion of reliance, stated: x2 (never read) sets the floor of this one draw
    assert "Not clear of the noise floor at the last step" in text
    assert "0.010 (x2). A feature counts as relied on when its effect is more than 2×" in text


def test_learn_page_replays_the_training(tmp_path_factory):
    from rnnviz.ui import text

    from apptools import TINY, assert_clean, charts, make_app, private_cache

    cache_fixture = private_cache(tmp_path_factory)
    next(cache_fixture)
    try:
        at = make_app(TINY).run()  # the setup page trains it
        assert_clean(at)
        at = make_app(TINY, page="learn").run()
        assert_clean(at)
        specs = [c.proto.spec for c in charts(at)]
        (replay,) = [s for s in specs if "Watch reliance emerge" in s]
        assert "full scoring, final model" in replay  # the Per-timestep page's numbers beside
        assert text.REPLAY_VS_FULL.strip() in [m.value.strip() for m in at.markdown]
        assert any(
            "Half of the final effect" in m.value or "noise floor" in m.value for m in at.markdown
        )
    finally:
        next(cache_fixture, None)


def test_live_view_draws_each_new_snapshot_once():
    from types import SimpleNamespace

    from rnnviz.ui.training_view import live

    drawn = []
    placeholder = SimpleNamespace(plotly_chart=lambda fig, **kw: drawn.append(kw["key"]))
    report = live(placeholder, Config(n_features=F, seq_len=T))
    snaps = _series(3)
    for progress in (None, *(SimpleNamespace(snapshot=s) for s in (None, snaps[0], snaps[0]))):
        report(SimpleNamespace(progress=progress))
    report(SimpleNamespace(progress=SimpleNamespace(snapshot=snaps[2])))
    assert drawn == ["live_snapshot_0", "live_snapshot_6"]
