"""The group method's map and the improved stepwise selections' losses, drawn by plotly.js in
Chromium at phone and desktop widths like every other figure (``test_figure_layout``): nothing
cut, nothing on anything else, in both layouts."""

from __future__ import annotations

import numpy as np
import pytest
from test_figure_layout import FULL, NOTE_COLUMN, PHONE, SERIES, draw, page  # noqa: F401

from rnnviz.attr.methods import Context
from rnnviz.attr.registry import run_method
from rnnviz.report import plots

pytestmark = [pytest.mark.browser]


def _x(n_steps: int, n_features: int) -> np.ndarray:
    return np.random.default_rng(0).random((20, n_steps, n_features), dtype=np.float32)


def _reads_a_window(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64)[:, 3:6, 0].sum(axis=1, keepdims=True)


def _linear(x: np.ndarray) -> np.ndarray:
    w = np.linspace(2.0, 0.0, x.shape[2])
    return np.asarray(x, np.float64) @ w


def _group(n_steps: int = 12, n_features: int = 3, names=None, **params):
    ctx = Context(_reads_a_window, _x(n_steps, n_features), feature_names=names)
    return run_method("group", ctx, **params)


def _stepwise(name: str, names=None):
    x = _x(10, len(names) if names else 3)
    return run_method(name, Context(_linear, x, y=_linear(x), feature_names=names))


def cases() -> dict[str, tuple]:
    def twin(builder, *args, widths=(NOTE_COLUMN, FULL), **kwargs):
        wide_from = plots.WIDE_FROM_PX[builder]
        build = getattr(plots, builder)
        return (
            lambda: build(*args, narrow=True, **kwargs),
            lambda: build(*args, **kwargs),
            (PHONE, wide_from - 1),
            (wide_from, *(w for w in widths if w > wide_from)),
        )

    return {
        "group_windows": twin("group_map", _group(window=3), {0}),
        "group_tiles_series": twin(
            "group_map", _group(28, 4, SERIES, grouping="tile", window=7, block=2), None
        ),
        "group_sliding_noise": twin(
            "group_map", _group(window=4, overlap="sliding", edit="noise", n_repeats=2), {0}
        ),
        "group_box_sized": twin(
            "group_map", _group(50, 50, grouping="tile", window=6, block=6), {1}
        ),
        # a planted box outlined (rnnviz.data.boxes: RareTime's steps 22-27 of x6-x45)
        "group_box_outlined": twin(
            "group_map", _group(50, 50, window=6, overlap="sliding"), None, box=(22, 28, 5, 45)
        ),
        "cell_map_box": twin(
            "cell_map",
            _group(50, 50, grouping="tile", window=5, block=5),
            None,
            box=(22, 28, 5, 45),
        ),
        "cell_map_rule": twin("cell_map", _group(window=3), {0}),
        "iss1": twin("stepwise_losses", _stepwise("iss1"), {0, 1}),
        "iss2_series": twin("stepwise_losses", _stepwise("iss2", SERIES), None),
        "iss2": twin("stepwise_losses", _stepwise("iss2"), {0, 1}),
    }


CASES = cases()


@pytest.mark.parametrize("name", list(CASES))
def test_method_figure_reads_at_phone_and_desktop_width(page, name):  # noqa: F811
    narrow, wide, narrow_widths, wide_widths = CASES[name]
    found = []
    for width in narrow_widths:
        found += draw(page, narrow(), width, name)
    for width in wide_widths:
        found += draw(page, wide(), width, name)
    assert not found, "\n".join([*found[:12], f"({len(found)} problems)"])
