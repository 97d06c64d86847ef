"""Seeded data generation, masks and the one-class check."""

import numpy as np
import pytest

from rnnviz.config import Config
from rnnviz.data.split import DataError, check_balance, generate, make_split
from rnnviz.rules import get_rule


def test_shapes_range_and_labels_follow_the_rule():
    d = generate(get_rule("reference"), n=50, seq_len=7, n_features=4, seed=3)
    assert d.x.shape == (50, 7, 4) and d.y.shape == d.valid.shape == (50, 7)
    assert d.x.dtype == np.float32 and d.x.min() >= 0 and d.x.max() < 1
    np.testing.assert_array_equal(d.y, (d.x[:, :, 0] * d.x[:, :, 1] < 0.25).astype(np.float32))
    assert d.valid.all()


def test_same_seed_same_data_and_splits_differ():
    cfg = Config(n_train=100, n_val=60)
    a, b = make_split(cfg, "train"), make_split(cfg, "train")
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x[:60], make_split(cfg, "val").x)
    # the validation size does not change the training data
    np.testing.assert_array_equal(a.x, make_split(cfg.replace(n_val=80), "train").x)
    assert not np.array_equal(a.x, make_split(cfg.replace(seed=1), "train").x)


def test_lagged_rule_masks_the_first_steps():
    d = make_split(Config(rule="lagged", n_train=100), "train")
    assert not d.valid[:, :2].any() and d.valid[:, 2:].all()
    assert np.all(d.y[:, :2] == 0)
    np.testing.assert_array_equal(d.y[:, 2:], (d.x[:, :-2, 0] > 0.5).astype(np.float32))


def test_class_balance_and_baseline():
    d = make_split(Config(n_train=2000), "train")
    assert d.positive_share == pytest.approx(0.5966, abs=0.02)  # P(x1*x2 < 0.25)
    assert d.majority_accuracy == pytest.approx(d.positive_share)
    check_balance(d)


def test_one_class_rule_is_a_clear_error():
    d = make_split(Config(rule="x1 > 2", n_train=100), "train")
    assert d.positive_share == 0.0
    with pytest.raises(DataError, match="almost one class.*Change the threshold"):
        check_balance(d)
    rare = make_split(Config(rule="x1 > 0.995", n_train=200), "train")
    with pytest.raises(DataError):
        check_balance(rare)
