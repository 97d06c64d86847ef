"""The load benchmark's classes (``benchmarks/load_test.py``), without a server: every student's
link opens exactly the student's experiment within the hosted bounds, the explore class holds
the 16 architectures, the sequence 27 different ones, and the series link's real work is the
product worked out by hand."""

from __future__ import annotations

import sys
from urllib.parse import urlencode

from apptools import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import load_test  # noqa: E402

from rnnviz.config import Config  # noqa: E402
from rnnviz.serve.hosting import HOSTED_BOUNDS  # noqa: E402


def _opened(student) -> Config:
    """The config the app reads from the student's link (as rnnviz.ui.state does)."""
    return Config.from_dict(dict(student.params)).validate(HOSTED_BOUNDS)


def test_explore_class_holds_every_architecture_and_links_open_them():
    students = load_test.make_class(30, 30.0, 3, archs=load_test.EXPLORE_ARCHS)
    shapes = {(s.config.cell, s.config.units) for s in students[:16]}
    assert shapes == {
        (cell, units)
        for cell in ("lstm", "gru", "simple_rnn", "bilstm")
        for units in ((10, 5), (16, 8), (8,), (24, 12))
    }
    assert len({(s.rule, s.seed) for s in students}) == 30  # 30 different experiments
    for s in students:
        assert _opened(s) == s.config
    assert [s.kind for s in students].count("browser") == 3


def test_default_class_keeps_the_default_architecture():
    students = load_test.make_class(4, 4.0, 0)
    assert {(s.config.cell, s.config.units, s.config.head) for s in students} == {
        ("lstm", (10, 5), "dense")
    }
    assert not any(k in s.params for s in students for k in ("cell", "units", "activations"))


def test_sequence_holds_27_different_architectures():
    students = load_test.make_sequence(27)
    models = {(c.cell, c.units, c.activations, c.head) for c in (s.config for s in students)}
    assert len(models) == 27
    for s in students:
        assert _opened(s) == s.config


def test_series_link_real_work_is_every_window_of_2015():
    work, limit = load_test.series_work(load_test.SERIES_QUERY)
    # 10 repeats x 315 windows x (1 + 6 x (1 + 50)) copies x 50 steps x 6 features
    assert work == 10 * 315 * 307 * 50 * 6 == 290_115_000
    assert limit == HOSTED_BOUNDS.max_score_values
    refused = load_test.series_work(urlencode({"dataset": "seattle-weather", "units": "8,4,2"}))
    assert isinstance(refused, str) and "activation" in refused
