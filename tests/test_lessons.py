"""Lessons: the reveals read off hand-made numbers, and every lesson walked through AppTest."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rnnviz import lessons
from rnnviz.attribution import Attribution, PerturbationResult
from rnnviz.comparison import Comparison
from rnnviz.config import Config
from rnnviz.hosting import HOSTED_BOUNDS
from rnnviz.jobs import preset_experiments
from rnnviz.reliance import noise_of
from rnnviz.truth import score_method

from apptools import assert_clean, make_app, private_cache

NAMES3 = ("x1", "x2", "x3")


def bars(*values: float, std: float = 0.0) -> PerturbationResult:
    """Per-feature effects: two repeats at value ± std."""
    imp = np.array([[v - std, v + std] for v in values])
    return PerturbationResult(0.2, tuple(f"x{i + 1}" for i in range(len(values))), imp)


def lagged(peak: int, seq_len: int = 6, height: float = 0.4, rest: float = 0.05):
    """A response where a nudge to x1 at step s moves output s + peak by ``height`` and every
    other later output by ``rest``; x2 moves nothing."""
    response = np.zeros((2, seq_len, seq_len))
    for s in range(seq_len):
        for t in range(s, seq_len):
            response[0, s, t] = height if t - s == peak else rest
    return PerturbationResult(0.2, ("x1", "x2"), np.array([[0.3], [0.0]]), response=response)


# --------------------------------------------------------------------------- reveals (pure)


def test_features_reveal_judges_against_the_noise_floor():
    # x3 (never read) sets the floor: 0.007 + 2 × 0.002 = 0.011; relied on above 0.022
    reveal = lessons.reveal_features(bars(0.305, 0.298, 0.007, std=0.002), (2,))
    assert reveal.answer == "x1 and x2"
    assert "x1 by 0.305 ± 0.002, x2 by 0.298 ± 0.002" in reveal.reading
    assert "x3 by only 0.007" in reveal.reading
    assert "0.011 (x3, mean + 2 std over the repeats)" in reveal.reading
    assert "more than 2× the floor, above 0.022: x1 and x2 are." in reveal.reading
    # x2 at 3× x3: relied on when x3 is the floor, not when x2 is unread too (it sets it)
    assert lessons.reveal_features(bars(0.3, 0.03, 0.01), (2,)).answer == "x1 and x2"
    assert lessons.reveal_features(bars(0.3, 0.03, 0.01), (1, 2)).answer == "x1 only"
    # a set that no option offers: the numbers win, no option is called right
    assert lessons.reveal_features(bars(0.3, 0.01, 0.2), (1,)).answer is None


def test_lag_reveal_finds_the_peak_and_the_runner_up():
    reveal = lessons.reveal_lag(lagged(2))
    assert reveal.answer == "2 steps"
    assert "moves the output 2 steps later the most (0.400)" in reveal.reading
    assert "at most 0.050 (13% of the peak)" in reveal.reading
    assert lessons.reveal_lag(lagged(0)).answer == "0 steps (the same step)"
    assert lessons.reveal_lag(lagged(4)).answer == "3 or more steps"  # the last option: 3+
    assert lessons.peak_lag(lagged(1), 0) == (1, 0.4)


def test_correlated_reveal_against_the_original_and_the_noise_floor():
    # x2, x3 read and copied by nothing: 0.01 is what nothing looks like here
    some = lessons.reveal_correlated(bars(0.4, 0.01, 0.008, 0.1), 0.95)
    assert some.answer == lessons.SOME
    assert "x4 (rank correlation 0.95) by 0.100, 25% of x1's effect" in some.reading
    assert "x2 and x3, which nothing reads or copies, by at most 0.010" in some.reading
    assert lessons.reveal_correlated(bars(0.4, 0.01, 0.008, 0.02), 0.95).answer == lessons.NONE
    assert lessons.reveal_correlated(bars(0.4, 0.01, 0.008, 0.021), 0.95).answer == lessons.SOME
    assert lessons.reveal_correlated(bars(0.4, 0.01, 0.0, 0.33), 0.95).answer == lessons.AS_MUCH


def test_cells_reveal_reads_the_grades_and_the_lag_peaks():
    simple = SimpleNamespace(grade="learned", val_accuracy=0.976, baseline_accuracy=0.512)
    lstm = SimpleNamespace(grade="partly learned", val_accuracy=0.717, baseline_accuracy=0.512)
    reveal = lessons.reveal_cells([simple, lstm], [lagged(3), lagged(3, height=0.1)])
    assert reveal.answer == lessons.ONLY_SIMPLE
    assert "The simple RNN learned (validation accuracy 97.6% against 51.2%" in reveal.reading
    assert "The LSTM partly learned" in reveal.reading
    assert "moves its output 3 steps later the most (0.100)" in reveal.reading
    both = lessons.reveal_cells([simple, simple], [lagged(3), lagged(3)])
    assert both.answer == lessons.BOTH


def comparison(**feature_scores) -> Comparison:
    truth = {(0, 2)}  # x1 two steps back
    attrs = {
        m: Attribution(m, NAMES3, np.asarray(v, float)[:, None]) for m, v in feature_scores.items()
    }
    scores = {m: score_method(a.importances_mean, None, truth) for m, a in attrs.items()}
    return Comparison(tuple(attrs), attrs, scores, np.eye(len(attrs)), dict.fromkeys(attrs, 0.1))


def test_methods_reveal_from_the_feature_aucs():
    agree = comparison(perturbation=[0.5, 0.1, 0.1], saliency=[0.4, 0.2, 0.1], random=[0, 1, 2])
    assert lessons.reveal_methods(agree, {0}).answer == lessons.ALL_AGREE
    split = comparison(perturbation=[0.5, 0.1, 0.1], connection_weights=[0.2, 0.1, 0.4])
    reveal = lessons.reveal_methods(split, {0})
    assert reveal.answer == lessons.NOT_ALL
    assert "ranks x3 above x1" in reveal.reading


def test_the_verdict_on_a_guess():
    reveal = lessons.Reveal("2 steps", "…")
    assert reveal.verdict_on("2 steps") == "You guessed “2 steps”: that is what the model shows."
    assert reveal.verdict_on("1 step") == "You guessed “1 step”; the model shows “2 steps”."
    assert "None of the options" in lessons.Reveal(None, "…").verdict_on("1 step")


# --------------------------------------------------------------------------- the lessons


def test_lessons_are_prepared_and_fit_the_hosted_demo():
    slugs = [lesson.slug for lesson in lessons.LESSONS]
    assert len(slugs) == len(set(slugs)) == 6
    warmed = set(preset_experiments())
    for lesson in lessons.LESSONS:
        assert set(lesson.configs) <= warmed, lesson.slug  # trained at start: opens at once
        for config in (*lesson.configs, lesson.try_config):
            config.validate(HOSTED_BOUNDS)
        assert lesson.kind in {"features", "lag", "interaction", "correlated", "methods", "cells"}
        assert lesson.options and lesson.try_next


TINY = dict(n_train=300, n_val=100, n_score=40, epochs=1, n_repeats=2)


@pytest.fixture(scope="module")
def tiny_lessons(tmp_path_factory):
    """The lessons with tiny recipes (each trains in about a second; their "try this next" too),
    in a private cache."""
    gen = private_cache(tmp_path_factory)
    next(gen)
    small = tuple(
        lessons.Lesson(
            **{
                **lesson.__dict__,
                "configs": tuple(c.replace(**TINY) for c in lesson.configs),
                "try_config": lesson.try_config.replace(**TINY),  # the setup page trains it
            }
        )
        for lesson in lessons.LESSONS
    )
    mp = pytest.MonkeyPatch()
    mp.setattr(lessons, "LESSONS", small)
    mp.setattr(lessons, "BY_SLUG", {lesson.slug: lesson for lesson in small})
    yield small
    mp.undo()
    next(gen, None)


def expected_reveal(lesson) -> lessons.Reveal:
    """The reveal recomputed from the cached experiments, outside the page."""
    from rnnviz.registry import first_methods
    from rnnviz.ui import cache

    store = cache.model_store()
    results = [store.get(c) for c in lesson.configs]
    assert all(r is not None for r in results)
    config = lesson.configs[0]
    if lesson.kind == "methods":
        found = cache.comparison(results[0], config, first_methods())
        return lessons.reveal_methods(found, config.target().features)
    scores = [cache.scores(r, c) for r, c in zip(results, lesson.configs, strict=True)]
    if lesson.kind == "features":
        return lessons.reveal_features(scores[0], noise_of(config))
    if lesson.kind == "lag":
        return lessons.reveal_lag(scores[0])
    if lesson.kind == "correlated":
        return lessons.reveal_correlated(scores[0], config.correlated[0][2])
    if lesson.kind == "interaction":
        return lessons.reveal_interaction(cache.interactions(results[0], config), noise_of(config))
    return lessons.reveal_cells(results, scores)


@pytest.mark.parametrize("slug", [lesson.slug for lesson in lessons.LESSONS])
def test_each_lesson_asks_takes_a_guess_and_reveals_the_real_numbers(tiny_lessons, slug):
    lesson = lessons.BY_SLUG[slug]
    at = make_app({"lesson": slug}, page="lessons").run()
    assert_clean(at)
    assert at.query_params["lesson"] == slug  # its own link
    assert any(lesson.question in m.value for m in at.markdown)
    button = at.button(key=f"lesson_button_{slug}")
    assert button.disabled  # commit to a guess first
    assert not any("What the numbers say" in m.value for m in at.markdown)
    guess = lesson.options[-1]
    at.radio(key=f"lesson_guess_{slug}").set_value(guess).run()
    at.button(key=f"lesson_button_{slug}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    reveal = expected_reveal(lesson)
    said = [m.value for m in at.markdown]
    assert f"**What the numbers say.** {reveal.reading}" in said
    assert f"**Try this next.** {lesson.try_next}" in said
    if lesson.kind in ("features", "correlated", "interaction"):  # one criterion, stated
        (line,) = [m for m in said if m.startswith("**What the numbers say.**")]
        assert "noise floor" in line and "more than 2× the floor" in line
        assert "25%" not in line
    if lesson.kind == "interaction":  # what the interaction number is, in words
        assert "more than the sum of each alone" not in line
        assert "Δ(x1 and x2) − Δ(x1) − Δ(x2)" in line
    verdicts = [e.value for e in (*at.success, *at.info)]
    assert reveal.verdict_on(guess) in verdicts
    assert len(at.get("plotly_chart")) == (2 if lesson.kind == "cells" else 1)


def test_try_this_next_opens_the_change_on_the_setup_page(tiny_lessons):
    from rnnviz.ui import state

    lesson = lessons.BY_SLUG["memory"]
    at = make_app({"lesson": "memory"}, page="lessons").run()
    at.radio(key="lesson_guess_memory").set_value(lesson.options[0]).run()
    at.button(key="lesson_button_memory").click().run()
    at.button(key="lesson_try_memory").click().run()
    assert_clean(at)
    assert at.session_state[state.CONFIG_KEY] == lesson.try_config
    assert any(t.value == "Setup & train" for t in at.title)


def test_an_unknown_lesson_link_opens_the_first_lesson(tiny_lessons):
    at = make_app({"lesson": "nope"}, page="lessons").run()
    assert_clean(at)
    assert at.query_params["lesson"] == lessons.LESSONS[0].slug


def test_lesson_configs_are_real_presets():
    by_slug = {lesson.slug: lesson for lesson in lessons._lessons()}  # not the tiny ones
    assert by_slug["thread"].configs == (Config(),)
    memory = by_slug["cells"].configs
    assert [c.cell for c in memory] == ["simple_rnn", "lstm"]
    assert {c.rule for c in memory} == {"x1[t-8] > 0.5"}
