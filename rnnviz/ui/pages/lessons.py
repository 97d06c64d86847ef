"""Lessons: a question, the student's guess, the prepared experiment, and the reveal.

Each lesson has its own link (``/lessons?lesson=<slug>``) for a teacher to share. The
experiments are presets that hosted mode trains at start, so they open at once; the reveal is
read off their numbers by ``rnnviz.report.lessons``. Layout only: the core makes every sentence.
"""

from __future__ import annotations

import streamlit as st

from rnnviz.attr.reliance import noise_of
from rnnviz.config import describe_budget
from rnnviz.report import lessons, plots
from rnnviz.report.lessons import Lesson
from rnnviz.serve.warm import within
from rnnviz.ui import cache, charts, components, state, text

QUERY_KEY = "lesson"
# The pages a lesson's buttons may open (Lesson.try_page, Lesson.open_page).
PAGES = {
    "setup": components.SETUP_PAGE,
    "features": components.FEATURES_PAGE,
    "compare": components.COMPARE_PAGE,
}


def _current() -> Lesson:
    """The lesson in the link, or the first; the link follows the lesson picked."""
    ss = st.session_state
    if "lesson_pick" not in ss:
        slug = st.query_params.get(QUERY_KEY)
        ss["lesson_pick"] = slug if slug in lessons.BY_SLUG else lessons.LESSONS[0].slug
    slug = st.radio(
        "Lesson",
        [lesson.slug for lesson in lessons.LESSONS],
        key="lesson_pick",
        format_func=lambda s: (
            f"{lessons.LESSONS.index(lessons.BY_SLUG[s]) + 1}. {lessons.BY_SLUG[s].title}"
        ),
        horizontal=True,
        label_visibility="collapsed",
    )
    if st.query_params.to_dict() != {QUERY_KEY: slug}:
        st.query_params.from_dict({QUERY_KEY: slug})
    return lessons.BY_SLUG[slug]


def _open(lesson: Lesson) -> None:
    """Button callback: open the experiment and lock in the guess made before it."""
    ss = st.session_state
    ss[f"lesson_open_{lesson.slug}"] = True
    ss[f"lesson_locked_{lesson.slug}"] = ss.get(f"lesson_guess_{lesson.slug}")


def _results(lesson: Lesson) -> list | None:
    """The lesson's trained experiments (cached: they open at once), or None after an error."""
    results = []
    for config in lesson.configs:
        result = components.trained_model(config)
        if result is None:
            return None
        results.append(result)
    return results


def _scores(results: list, lesson: Lesson) -> list | None:
    pairs = zip(results, lesson.configs, strict=True)
    scores = [components.scores_or_error(result, config) for result, config in pairs]
    return None if any(s is None for s in scores) else scores


def _reveal(lesson: Lesson, results: list) -> lessons.Reveal | None:
    """Draw the lesson's figure(s) and return what the numbers say."""
    config = lesson.configs[0]
    if lesson.kind == "sure":
        return _reveal_sure(results[0], config)
    rule = config.target()
    if lesson.kind == "methods":
        from rnnviz.attr.registry import first_methods

        comparison = cache.comparison(results[0], config, first_methods())
        charts.by_width(plots.method_multiples, "lesson_figure", comparison, rule.features)
        return lessons.reveal_methods(comparison, rule.features)
    scores = _scores(results, lesson)
    if scores is None:
        return None
    if lesson.kind in ("features", "correlated"):
        st.plotly_chart(plots.feature_bars(scores[0], rule.features), key="lesson_figure")
        if lesson.kind == "features":
            return lessons.reveal_features(scores[0], noise_of(config))
        (_, _, rho), *_ = config.correlated
        return lessons.reveal_correlated(scores[0], rho)
    if lesson.kind == "lag":
        st.plotly_chart(plots.lag_profile(scores[0], rule.ground_truth), key="lesson_figure")
        return lessons.reveal_lag(scores[0])
    if lesson.kind == "interaction":
        from rnnviz.data.truth import interacting_pairs
        from rnnviz.report.plots import interaction_heatmap

        found = cache.interactions(results[0], config)
        st.plotly_chart(interaction_heatmap(found, interacting_pairs(rule)), key="lesson_figure")
        return lessons.reveal_interaction(found, noise_of(config))
    if lesson.kind == "cells":
        # one column per model: its name, its lag profile (one y range for all, and the
        # profiles level with each other), then its own verdict, which names it
        pairs = zip(scores, lesson.configs, strict=True)
        figures = [plots.lag_profile(s, c.target().ground_truth) for s, c in pairs]
        plots.share_y_range(figures)
        columns = st.columns(len(scores), gap="medium")
        parts = zip(columns, results, figures, lesson.configs, strict=True)
        for i, (column, result, figure, c) in enumerate(parts):
            with column:
                st.markdown(f"**{text.CELL_NAMES[c.cell]}, {describe_budget(c)}**")
                st.plotly_chart(figure, key=f"lesson_figure_{i}")
                components.verdict_box(result)
        return lessons.reveal_cells(results, scores)
    raise ValueError(f"unknown lesson kind {lesson.kind!r}")


def _reveal_sure(result, config) -> lessons.Reveal:
    """The planted box: one method's per-cell map, the window scale's map (the box outlined on
    both) and the deletion curves; the reveal reads all three."""
    from rnnviz.attr.saturation import saturation_of
    from rnnviz.data.source import source_of

    truth = source_of(config).truth
    methods = [lessons.SURE_CELL_METHOD, "group"]
    comparison = cache.comparison(result, config, methods, {"group": lessons.SURE_WINDOW})
    for name, build in zip(methods, (plots.cell_map, plots.group_map), strict=True):
        attribution = comparison.attributions[name]
        charts.by_width(build, f"lesson_figure_{name}", attribution, None, box=truth.rect)
    charts.by_width(plots.faithfulness_curves, "lesson_curves", comparison)
    scores = components.scores_or_error(result, config)  # they carry the outputs' sure share
    check = None if scores is None else saturation_of(scores, config.task, config.effect_on)
    share = check.share if check is not None and check.applies else None
    return lessons.reveal_sure(comparison, truth, sure_share=share)


def main() -> None:
    components.page_links()
    st.title("Lessons")
    st.caption(
        "Seven short lessons a class can run together: read the question, commit to a guess, "
        "then open the prepared experiment and see what the network really does. Each lesson "
        "has its own link to share."
    )
    lesson = _current()
    st.subheader(lesson.title)
    st.markdown(lesson.question)
    if not all(within(c, cache.settings().bounds) for c in lesson.configs):
        st.info(text.LESSON_BEYOND_BOUNDS, icon=":material/computer:")
        return
    ss = st.session_state
    opened = ss.get(f"lesson_open_{lesson.slug}", False)
    locked = f"lesson_locked_{lesson.slug}"
    if opened:  # the guess made before the reveal stays the guess: shown, and not changeable
        ss[f"lesson_guess_{lesson.slug}"] = ss.get(locked)
    guess = st.radio(
        "Your guess",
        lesson.options,
        index=None,
        key=f"lesson_guess_{lesson.slug}",
        disabled=opened,
        help="Locked once the experiment is open: the reveal answers the guess you made first."
        if opened
        else None,
    )
    if opened:
        guess = ss.get(locked)
    st.button(
        "Open the experiment and reveal",
        type="primary",
        disabled=guess is None and not opened,
        on_click=_open,
        args=(lesson,),
        key=f"lesson_button_{lesson.slug}",
        help="Commit to a guess first." if guess is None else None,
    )
    if not opened:
        return
    results = _results(lesson)
    if results is None:
        return
    if lesson.kind != "cells":  # the cells lesson shows each model's verdict in its column
        for result in results:
            components.learned_notice(result)
    reveal = _reveal(lesson, results)
    if reveal is None:
        return
    if reveal.answer is not None and guess == reveal.answer:
        st.success(reveal.verdict_on(guess), icon=":material/check_circle:")
    else:
        st.info(reveal.verdict_on(guess), icon=":material/info:")
    st.markdown(f"**What the numbers say.** {reveal.reading}")
    st.markdown(f"**Try this next.** {lesson.try_next}")
    left, right = st.columns(2)
    if left.button("Set up this change", key=f"lesson_try_{lesson.slug}"):
        state.set_config(lesson.try_config)
        st.switch_page(PAGES[lesson.try_page])
    if right.button("Open this experiment in the dashboard", key=f"lesson_dash_{lesson.slug}"):
        state.set_config(lesson.configs[-1])
        st.switch_page(PAGES[lesson.open_page])


main()
