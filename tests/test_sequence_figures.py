"""The One sequence figure drawn by plotly.js at phone and desktop widths: nothing cut, nothing
on anything else (``layoutcheck``, as ``test_figure_layout`` checks every other figure)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_figure_layout import FULL, NOTE_COLUMN, PHONE, draw, page  # noqa: F401

from rnnviz.attr.sequence import SequenceAttribution
from rnnviz.report import plots

from apptools import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium"),
]
SERIES = ("precipitation", "temp_max", "temp_min", "wind")


def _attr(names=("x1", "x2", "x3"), steps: int = 12, counted_from: int = 4) -> SequenceAttribution:
    rng = np.random.default_rng(0)
    f = len(names)
    effects = rng.normal(0, 0.1, (f, steps, steps))
    counted = np.arange(steps) >= counted_from
    return SequenceAttribution(
        "perturbation",
        names,
        effects,
        np.abs(effects) / 5,
        7,
        steps - 1,
        rng.random((steps, f)),
        rng.random(steps),
        (rng.random(steps) > 0.5).astype(float),
        counted,
    )


def _marks(steps: int = 12):
    reads = np.zeros((3, steps), bool)
    reads[0, steps - 5 :] = True
    decides = np.zeros((3, steps), bool)
    decides[0, steps - 3] = True
    return reads, decides


CASES = {
    "sequence_rule": (lambda narrow: plots.sequence_figure(_attr(), *_marks(), narrow=narrow)),
    "sequence_series": (
        lambda narrow: plots.sequence_figure(
            _attr(SERIES, 28, 0),
            step_names=[f"03-{d:02d}" for d in range(1, 29)],
            narrow=narrow,
        )
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sequence_figure_reads_at_phone_and_desktop_width(page, name):  # noqa: F811
    build = CASES[name]
    wide_from = plots.WIDE_FROM_PX["sequence_figure"]
    found = []
    for width in (PHONE, wide_from - 1):
        found += draw(page, build(True), width, name)
    for width in (wide_from, NOTE_COLUMN, FULL):
        found += draw(page, build(False), width, name)
    assert not found, "\n".join([*found[:12], f"({len(found)} problems)"])


def test_figure_marks_the_truth_and_the_explained_step():
    attr = _attr()
    fig = plots.sequence_figure(attr, *_marks())
    names = [tr.name for tr in fig.data]
    assert "read by the rule" in names and "decided the output" in names
    star = next(tr for tr in fig.data if tr.name == "decided the output")
    assert list(star.x) == [9]
    explained = next(tr for tr in fig.data if (tr.name or "").startswith("explained"))
    assert list(explained.x) == [11] and explained.y[0] == pytest.approx(attr.output)
    strips = [tr for tr in fig.data if tr.type == "heatmap"]
    np.testing.assert_array_equal(strips[1].z[0], attr.effect[1])  # x2's strip: its effects
    out = next(tr for tr in fig.data if tr.name == "output")
    assert np.isnan(out.y[:4]).all()  # outputs without a target are not drawn
    assert fig.layout.coloraxis.cmin == -fig.layout.coloraxis.cmax  # 0 sits in the middle
