"""Lessons: the reveals read off hand-made numbers, and every lesson walked through AppTest."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rnnviz.attr.attribution import Attribution, PerturbationResult
from rnnviz.attr.comparison import Comparison
from rnnviz.attr.reliance import noise_of
from rnnviz.config import Config
from rnnviz.data.truth import score_method
from rnnviz.report import lessons
from rnnviz.serve.hosting import HOSTED_BOUNDS
from rnnviz.serve.jobs import preset_experiments

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


def trained(cell: str, epochs: int, grade: str, accuracy: float) -> SimpleNamespace:
    """A hand-made training result: its config, grade and accuracy against a 51.2% baseline."""
    config = Config(rule="x1[t-8] > 0.5", seq_len=20, cell=cell, epochs=epochs)
    return SimpleNamespace(
        config=config, grade=grade, val_accuracy=accuracy, baseline_accuracy=0.512
    )


def test_cells_reveal_reads_the_grades_and_the_lag_peaks():
    simple = trained("simple_rnn", 3, "learned", 0.976)
    lstm = trained("lstm", 3, "partly learned", 0.717)
    reveal = lessons.reveal_cells([simple, lstm], [lagged(3), lagged(3, height=0.1)])
    assert reveal.answer == lessons.ONLY_SIMPLE
    assert (
        "The simple RNN (3 epochs) learned (validation accuracy 97.6% against 51.2%"
        in reveal.reading
    )
    assert "The LSTM (3 epochs) partly learned" in reveal.reading
    assert "moves its output 3 steps later the most (0.100)" in reveal.reading
    both = lessons.reveal_cells([simple, simple], [lagged(3), lagged(3)])
    assert both.answer == lessons.BOTH


def test_cells_reveal_says_when_the_budget_decided_not_the_memory():
    # the lesson's measured numbers: in 3 epochs the simple RNN learns and the LSTM does not,
    # given 16 the LSTM learns too
    simple = trained("simple_rnn", 3, "learned", 0.976)
    lstm = trained("lstm", 3, "partly learned", 0.717)
    lstm16 = trained("lstm", 16, "learned", 0.977)
    scores = [lagged(8, seq_len=20), lagged(8, seq_len=20, height=0.1), lagged(8, seq_len=20)]
    reveal = lessons.reveal_cells([simple, lstm, lstm16], scores)
    assert reveal.answer == lessons.ONLY_SIMPLE  # the guess is about the same budget
    assert "The LSTM (16 epochs) learned (validation accuracy 97.7% against 51.2%" in (
        reveal.reading
    )
    assert (
        "So the budget of 3 epochs was too short for the LSTM, not its memory: given 16 epochs "
        "it learned the rule. Within 3 epochs the simple RNN learned sooner, which does not make "
        "it remember better." in reveal.reading
    )
    # the longer budget that does not help is said too, and no conclusion is drawn from it
    stuck = trained("lstm", 16, "partly learned", 0.8)
    reveal = lessons.reveal_cells([simple, lstm, stuck], scores)
    assert "Even given 16 epochs the LSTM partly learned." in reveal.reading
    assert "remember better" not in reveal.reading


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


def sure_comparison(peak_step: int) -> tuple[Comparison, object]:
    """A sure model on 8 steps of 4 features with the box at steps 2-3 of x2-x3 (4 cells of
    32): one-cell effects of 1e-7 in the box, 2e-7 elsewhere and 3e-5 at ``peak_step``
    (every feature); windows of 2 steps with effects 0.001, 0.7, 0.002, 0.01; deletion in the
    windows' order falls to 0.55 after 10% of the cells, a random order's after 50%."""
    from rnnviz.attr.faithfulness import Curves
    from rnnviz.data.boxes import Box, BoxTruth

    truth = BoxTruth(Box("tiny", 2, 4, 1, 3, "Tiny"), seq_len=8, n_features=4)
    names = ("x1", "x2", "x3", "x4")
    cell = np.full((4, 8), 2e-7)
    cell[truth.mask] = 1e-7
    cell[:, peak_step] = 3e-5
    pert = Attribution("perturbation", names, cell.mean(axis=1)[:, None], cell[..., None])
    groups = np.array([(0, 2, 0, 4), (2, 4, 0, 4), (4, 6, 0, 4), (6, 8, 0, 4)])
    effects = np.array([[0.001], [0.7], [0.002], [0.01]])
    group_cell = np.repeat(effects[:, 0], 2)[None, :].repeat(4, axis=0)
    group = Attribution(
        "group",
        names,
        group_cell.mean(axis=1)[:, None],
        group_cell[..., None],
        extra={"groups": groups, "group_effects": effects},
    )
    shares = np.array([0.0, 0.1, 0.25, 0.5, 1.0])
    curves = Curves(
        "group",
        "cell",
        "accuracy",
        32,
        shares,
        deletion=np.array([1.0, 0.55, 0.5, 0.5, 0.5]),
        insertion=np.array([0.5, 0.9, 1.0, 1.0, 1.0]),
        random_deletion=np.array([[1.0, 1.0, 0.95, 0.55, 0.5]]),
        random_insertion=np.array([[0.5, 0.5, 0.6, 0.9, 1.0]]),
    )
    attrs = {"perturbation": pert, "group": group}
    found = Comparison(
        tuple(attrs), attrs, {}, np.eye(2), dict.fromkeys(attrs, 0.1), curves={"group": curves}
    )
    return found, truth


def test_sure_reveal_reads_the_map_the_windows_and_the_deletion_curve():
    found, truth = sure_comparison(peak_step=7)
    reveal = lessons.reveal_sure(found, truth, sure_share=0.85)
    assert reveal.answer == lessons.LAST_STEPS
    text = reveal.reading
    assert "at most 3.0e-05 (x1 at step 7)" in text
    assert "the box's cells by 1.0e-07 on average" in text
    assert "peak at step 7" in text
    assert "ROC AUC of 0.00" in text  # every box cell below every other cell
    assert "85% of its answers are within 0.001 of 0 or 1" in text
    assert "4 cells say the same thing" in text
    # the windows: steps 2-3 at 0.70, the largest elsewhere 0.01; the window map ties the box
    # with the 4 other cells of its steps and tops the 24 others: AUC (24 + 4 / 2) / 28
    assert (
        "steps 2–3 move the output by 0.70, no window clear of the box by more than 1.0e-02" in text
    )
    assert f"ROC AUC against the box is {26 / 28:.2f}" in text
    # deletion: within 10 points of 50% (at or below 0.6) after 10%, random after 50%
    assert "falls from 100% to within 10 points of its 50% with every cell removed" in text
    assert "after 10% of the cells (the box is 12.5% of them); in a random order after 50%" in text


def test_sure_reveal_options_follow_the_peak():
    assert lessons.reveal_sure(*sure_comparison(2)).answer == lessons.IN_BOX
    assert lessons.reveal_sure(*sure_comparison(0)).answer == lessons.ELSEWHERE
    # without the saturation numbers the reading says what such small effects mean
    assert "pinned near 0 or 1" in lessons.reveal_sure(*sure_comparison(7)).reading


def test_the_verdict_on_a_guess():
    reveal = lessons.Reveal("2 steps", "…")
    assert reveal.verdict_on("2 steps") == "You guessed “2 steps”: that is what the model shows."
    assert reveal.verdict_on("1 step") == "You guessed “1 step”; the model shows “2 steps”."
    assert "None of the options" in lessons.Reveal(None, "…").verdict_on("1 step")


# --------------------------------------------------------------------------- the lessons


# Lessons whose experiment is beyond the hosted demo (the benchmark's 50 x 50 boxes): refused
# there with a note, and not warmed there.
LOCAL_ONLY = {"sure"}


def test_lessons_are_prepared_and_fit_the_hosted_demo():
    slugs = [lesson.slug for lesson in lessons.LESSONS]
    assert len(slugs) == len(set(slugs)) == 7
    warmed = set(preset_experiments())
    hosted = set(preset_experiments(HOSTED_BOUNDS))
    kinds = {"features", "lag", "interaction", "correlated", "methods", "cells", "sure"}
    for lesson in lessons.LESSONS:
        assert set(lesson.configs) <= warmed, lesson.slug  # trained at start: opens at once
        if lesson.slug in LOCAL_ONLY:
            assert not set(lesson.configs) & hosted  # hosted mode never trains it
            for config in (*lesson.configs, lesson.try_config):
                with pytest.raises(ValueError, match="n_features"):
                    config.validate(HOSTED_BOUNDS)
        else:
            assert set(lesson.configs) <= hosted, lesson.slug
            for config in (*lesson.configs, lesson.try_config):
                config.validate(HOSTED_BOUNDS)
        assert lesson.kind in kinds
        assert lesson.options and lesson.try_next


TINY = dict(n_train=300, n_val=100, n_score=40, epochs=1, n_repeats=2)


def tiny(config: Config) -> Config:
    """``config`` with a tiny recipe; a longer budget than the default stays longer; the
    planted boxes' 50 x 50 sequences score few sequences, once."""
    small = {**TINY, "epochs": 2 if config.epochs > Config().epochs else 1}
    if config.n_features > 20:
        small |= {"n_score": 10, "n_repeats": 1}
    return config.replace(**small)


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
                "configs": tuple(tiny(c) for c in lesson.configs),
                "try_config": tiny(lesson.try_config),  # the setup page trains it
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
    from rnnviz.attr.registry import first_methods
    from rnnviz.ui import cache

    store = cache.model_store()
    results = [store.get(c) for c in lesson.configs]
    assert all(r is not None for r in results)
    config = lesson.configs[0]
    if lesson.kind == "methods":
        found = cache.comparison(results[0], config, first_methods())
        return lessons.reveal_methods(found, config.target().features)
    if lesson.kind == "sure":
        from rnnviz.data.source import source_of

        methods = [lessons.SURE_CELL_METHOD, "group"]
        from rnnviz.attr.saturation import saturation_of

        found = cache.comparison(results[0], config, methods, {"group": lessons.SURE_WINDOW})
        share = saturation_of(cache.scores(results[0], config), config.task).share
        assert 0 <= share <= 1
        return lessons.reveal_sure(found, source_of(config).truth, sure_share=share)
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
    # a plot per model side by side for the cells; the methods' small multiples are drawn wide
    # and narrow (two panels a row), and the page shows the one that fits its width
    drawn = [c.proto.id.split("-", 2)[2] for c in at.get("plotly_chart")]  # $$ID-hash-key
    expected = {
        "cells": [f"lesson_figure_{i}" for i in range(len(lesson.configs))],
        "methods": ["lesson_figure", "lesson_figure-narrow"],
        "sure": [
            *(
                f"lesson_figure_{m}{end}"
                for m in ("perturbation", "group")
                for end in ("", "-narrow")
            ),
            "lesson_curves",
            "lesson_curves-narrow",
        ],
    }
    assert drawn == expected.get(lesson.kind, ["lesson_figure"])


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
    assert [(c.cell, c.epochs) for c in memory] == [("simple_rnn", 3), ("lstm", 3), ("lstm", 16)]
    assert {c.rule for c in memory} == {"x1[t-8] > 0.5"}
    assert memory[0].replace(cell="lstm") == memory[1]  # the same recipe and budget
    assert memory[2] == memory[1].replace(epochs=16)  # only the budget differs


# --------------------------------------------------------------------------- flow and wording


def reveal_lesson(slug: str, guess: str):
    """The lesson's page, the guess made and the experiment opened."""
    at = make_app({"lesson": slug}, page="lessons").run()
    at.radio(key=f"lesson_guess_{slug}").set_value(guess).run()
    at.button(key=f"lesson_button_{slug}").click().run()
    assert_clean(at)
    return at


def test_the_questions_do_not_give_the_answer_away():
    by_slug = {lesson.slug: lesson for lesson in lessons._lessons()}
    assert "never read" not in by_slug["thread"].question  # which features: the answer
    memory = by_slug["memory"].question.lower()
    assert "two steps earlier" not in memory and "decides" not in memory  # the lag: the answer
    assert "x1[t-2] > 0.5" in memory  # the rule itself is the setting, not the answer


def test_the_guess_is_locked_once_the_experiment_is_open(tiny_lessons):
    lesson = lessons.BY_SLUG["thread"]
    first, other = lesson.options[-1], lesson.options[0]
    at = reveal_lesson("thread", first)
    radio = at.radio(key="lesson_guess_thread")
    assert radio.disabled and radio.value == first
    said = [e.value for e in (*at.success, *at.info)]
    assert any(v.startswith(f"You guessed “{first}”") for v in said)
    # a browser cannot change a disabled radio; even a value changed behind it does not count
    at.session_state["lesson_guess_thread"] = other
    at.run()
    assert_clean(at)
    said = [e.value for e in (*at.success, *at.info)]
    assert any(v.startswith(f"You guessed “{first}”") for v in said), said
    assert not any(f"“{other}”" in v and v.startswith("You guessed") for v in said)
    assert at.radio(key="lesson_guess_thread").value == first


def test_the_cells_lesson_names_each_model_and_shares_one_y_range(tiny_lessons):
    import json

    lesson = lessons.BY_SLUG["cells"]
    at = reveal_lesson("cells", lesson.options[0])
    with_charts = [c for c in at.columns if c.get("plotly_chart")]
    assert len(with_charts) == 3
    for column, config in zip(with_charts, lesson.configs, strict=True):
        verdicts = [e.value for e in (*column.success, *column.warning)]
        name = {"simple_rnn": "simple RNN", "lstm": "LSTM"}[config.cell]
        assert len(verdicts) == 1 and verdicts[0].startswith(f"The {name} "), verdicts
    # no verdict floats above the three columns without saying which model it is about
    assert len([*at.success, *at.warning]) == 3
    ranges = [
        json.loads(c.get("plotly_chart")[0].proto.spec)["layout"]["yaxis"]["range"]
        for c in with_charts
    ]
    assert ranges[0] == ranges[1] == ranges[2] and ranges[0][0] == 0.0
    assert "budget" in lesson.question  # the guess is about one stated budget


def test_the_methods_lesson_opens_the_compare_page(tiny_lessons):
    from rnnviz.ui import state

    lesson = lessons.BY_SLUG["methods"]
    at = reveal_lesson("methods", lesson.options[0])
    at.button(key="lesson_dash_methods").click().run()
    assert_clean(at)
    assert any(t.value == "Compare methods" for t in at.title)
    assert at.session_state[state.CONFIG_KEY] == lesson.configs[-1]

    at = reveal_lesson("methods", lesson.options[0])
    at.button(key="lesson_try_methods").click().run()
    assert_clean(at)
    assert any(t.value == "Compare methods" for t in at.title)
    assert at.session_state[state.CONFIG_KEY] == lesson.try_config


def test_the_landing_page_points_to_the_lessons(tiny_lessons):
    from rnnviz.ui import text

    from apptools import TINY as TINY_PARAMS

    at = make_app(TINY_PARAMS).run()  # no page asked for: the landing page
    assert_clean(at)
    assert any(t.value == "Setup & train" for t in at.title)
    (pointer,) = [p for p in at.get("page_link") if p.proto.label == text.LESSONS_POINTER]
    assert pointer.proto.page.endswith("lessons")


def test_the_memory_lessons_next_step_is_learned_and_its_peak_follows():
    """The suggested change, trained with its real recipe (about 3 s): it must grade learned,
    and the lag profile must peak at the new lag."""
    from rnnviz.experiment import explain
    from rnnviz.report.readings import training_verdict
    from rnnviz.training.fit import train

    config = {lesson.slug: lesson for lesson in lessons._lessons()}["memory"].try_config
    assert config.rule == "x1[t-4] > 0.5"
    result = train(config)
    assert result.grade == "learned", training_verdict(result)
    # what the suggestion says of the default budget holds too
    assert train(config.replace(epochs=3)).grade == "partly learned"
    assert lessons.peak_lag(explain(result, config.replace(n_score=60, n_repeats=2)), 0)[0] == 4
