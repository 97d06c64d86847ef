"""A result kept with ``Attribution.save`` reads back with ``Attribution.load``, numbers identical;
a damaged or foreign file is refused with a clear error."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from rnnviz.attr.attribution import Attribution, PerturbationResult
from rnnviz.attr.scoring import perturbation_importance

FIELDS = ("importances", "cell", "response", "output_counts", "lag_scores")


def x2_one_back(x: np.ndarray) -> np.ndarray:
    y = x[:, :, 0].copy()
    y[:, 1:] += x[:, :-1, 1]
    return y


@pytest.fixture
def scores() -> PerturbationResult:
    x = np.random.default_rng(1).random((20, 4, 3), dtype=np.float32)
    valid = np.broadcast_to(np.arange(4) >= 1, (20, 4))
    return perturbation_importance(x2_one_back, x, sigma=0.3, n_repeats=3, valid=valid)


def assert_same(a: Attribution, b: Attribution) -> None:
    assert type(a) is type(b)
    assert (a.method, a.feature_names, a.note, a.sigma) == (
        b.method,
        b.feature_names,
        b.note,
        b.sigma,
    )
    for name in FIELDS:
        left, right = getattr(a, name), getattr(b, name)
        assert (left is None) == (right is None), name
        if left is not None:
            assert left.dtype == right.dtype and np.array_equal(left, right, equal_nan=True), name
    assert a.extra.keys() == b.extra.keys()
    for key, value in a.extra.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == b.extra[key].dtype and np.array_equal(value, b.extra[key])
        else:
            assert b.extra[key] == value and type(b.extra[key]) is type(value)


def test_a_perturbation_result_round_trips_exactly(tmp_path, scores):
    path = tmp_path / "scores.rnnviz"  # the name as given: no .npz appended
    scores.save(path)
    back = Attribution.load(path)
    assert_same(scores, back)
    assert np.isnan(back.response).any()  # output step 0 not counted: NaN kept, not 0
    assert back.to_dict() == scores.to_dict()
    assert np.array_equal(back.by_lag(), scores.by_lag(), equal_nan=True)


def test_an_attribution_with_extras_and_lag_scores_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    attr = Attribution(
        method="sigma_sweep",
        feature_names=("rain", "wind"),
        importances=rng.random((2, 1)),
        lag_scores=rng.random((2, 5)),
        note="a caveat",
        extra={
            "curves": rng.random((2, 3)),
            "counts": np.arange(4, dtype=np.int64),
            "sigma": 0.1 + 0.2,  # not a short decimal: kept exactly
            "quantiles": (0.1, 0.5, 0.9),
            "labels": ["a", "b"],
            "flag": True,
            "name": "x",
        },
    )
    attr.save(tmp_path / "a.npz")
    assert_same(attr, Attribution.load(tmp_path / "a.npz"))


def test_extras_that_cannot_be_kept_are_named(tmp_path, scores):
    odd = Attribution("m", ("x1",), np.ones((1, 1)), extra={"model": object()})
    with pytest.raises(ValueError, match="extra 'model' is a object"):
        odd.save(tmp_path / "odd.npz")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign npz", "missing"])
def test_a_damaged_file_gives_a_clear_error(tmp_path, scores, damage):
    path = tmp_path / "scores.npz"
    scores.save(path)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a result at all")
    elif damage == "foreign npz":
        np.savez(path, x=np.zeros(3))
    else:
        path = tmp_path / "nowhere.npz"
    with pytest.raises(ValueError) as exc:
        Attribution.load(path)
    message = str(exc.value)
    assert str(path) in message
    assert "not a saved rnnviz result" in message or "cannot read a saved result" in message


def test_a_changed_record_is_refused(tmp_path, scores):
    path = tmp_path / "scores.npz"
    scores.save(path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            if name != "meta.npy":
                zf.writestr(name, data)
        np_meta = tmp_path / "meta.npy"
        np.save(np_meta, np.array('{"format": "something else"}'))
        zf.write(np_meta, "meta.npy")
    with pytest.raises(ValueError, match="not a saved rnnviz result"):
        Attribution.load(path)
