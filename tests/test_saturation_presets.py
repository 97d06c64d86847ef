"""Which presets make a sure model: the saturation warning, pinned per preset.

Each preset's own model (its recipe and seed, trained here) is scored with the default knobs
and checked (:func:`rnnviz.experiment.saturation`). Measured with
``benchmarks/bench_saturation.py`` (share of counted outputs within 0.001 of 0 or 1; the
warning needs half of them, or effects below float32's rounding scale):

    default 2.2%, memory-simple-rnn 0%, memory-lstm 0%, memory-lstm-16 35%, correlated 0%,
    reference 24%, seattle-weather 0%: none of the thread's presets is saturated, so their
    pages show no warning; seattle-temp is a regression (not applicable).

Presets of planted evidence (data neither made by a rule nor a recorded series: the sure
models of the benchmark's boxes) must all warn.
"""

from __future__ import annotations

import pytest

from rnnviz.config import PRESETS

# True: the pages and the CLI warn; None: not applicable (a regression).
WARNS = {
    "default": False,
    "memory-simple-rnn": False,
    "memory-lstm": False,
    "memory-lstm-16": False,
    "correlated": False,
    "reference": False,
    "seattle-weather": False,
    "seattle-temp": None,
}
# Trained in this test: the preset every visitor sees first, and the surest of the rule presets
# (the others take 15-90 s each; their numbers are the benchmark's above).
TRAINED_HERE = ("default", "memory-lstm-16")


def _planted() -> list[str]:
    return [
        name
        for name, config in PRESETS.items()
        if not config.data_kind.rule_made and not config.data_kind.real
    ]


def _check(name: str):
    from rnnviz.experiment import explain, saturation
    from rnnviz.training.fit import train

    config = PRESETS[name].replace(n_repeats=1)  # a scoring knob: the preset's own model
    result = train(config)
    return saturation(result, config, explain(result, config))


def test_every_rule_and_series_preset_says_whether_the_warning_applies():
    pinned = {name for name in PRESETS if name not in _planted()}
    assert pinned == set(WARNS), "pin the new preset's saturation in WARNS (run the benchmark)"
    for name, warns in WARNS.items():
        assert (warns is None) == (PRESETS[name].task == "regression"), name


@pytest.mark.parametrize("name", TRAINED_HERE)
def test_the_rule_presets_models_are_not_saturated(name):
    check = _check(name)
    assert check.applies and check.warn is WARNS[name], (name, check)
    assert check.share < 0.5 and not check.at_precision


# Each planted-evidence model takes 15-30 s to train and score: the suite trains the lesson's
# box, the least sure of the three (85% of its answers within 0.001 of 0 or 1; the other two
# 100%). ``python benchmarks/bench_saturation.py`` checks all of them.
PLANTED_HERE = ("box-raretime",)


def test_the_planted_evidence_presets_are_the_benchmark_s_boxes():
    assert set(PLANTED_HERE) <= set(_planted())
    assert set(_planted()) == {"box-middle", "box-raretime", "box-rarefeature"}


@pytest.mark.parametrize("name", PLANTED_HERE)
def test_a_planted_evidence_preset_warns(name):
    check = _check(name)
    assert check.warn, (name, check)
