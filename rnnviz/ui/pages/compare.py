"""Compare methods: the thread's MLP methods (and newer ones) on one trained network, vs the truth.

Layout only: the methods, their knobs and figures come from the registry
(:mod:`rnnviz.attr.registry`); their scores against the rule's ground truth and the rank
agreement
from :func:`rnnviz.experiment.compare_methods` (through ``cache``); the plots from
:mod:`rnnviz.report.plots`; the sentences from :mod:`rnnviz.report.readings`; the teaching texts
from
:mod:`rnnviz.ui.text`.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from rnnviz.attr.comparison import merge_comparisons
from rnnviz.attr.methods import STEPWISE_MAX_FEATURES
from rnnviz.attr.registry import METHODS, RANDOM, Param, first_methods, method_label, spec_of
from rnnviz.config import Config, describe_model
from rnnviz.data.source import source_of
from rnnviz.experiment import DISAGREEMENT_EXAMPLE
from rnnviz.report import plots, readings
from rnnviz.serve.jobs import stepwise_fraction, wait_for
from rnnviz.sweep.seeds import SweepUnreadable, load_sweep, task_rows
from rnnviz.training.result import TrainResult
from rnnviz.ui import cache, charts, components, state, tables, text
from rnnviz.ui.text import md_code, md_escape

log = logging.getLogger(__name__)

DEFAULT_METHODS = first_methods()
TSR = "tsr:perturbation"
KNOBS_PER_ROW = 3


def _key(method: str, param: str) -> str:
    return f"cmp_{method}_{param}"


def _order(methods) -> list[str]:
    """Registry order, so tables, panels and cache keys do not depend on the clicking order."""
    rank = {m: i for i, m in enumerate(METHODS)}
    return sorted(set(methods), key=lambda m: rank.get(m, len(rank)))


def _subject(config: Config) -> Config:
    """The experiment to compare on: the session's, or (when that is the default experiment,
    where every method looks right) the example where the methods disagree, by choice."""
    if config.training_key() != Config().training_key():
        return config
    lead = DISAGREEMENT_EXAMPLE.replace(
        sigma=config.sigma,
        n_repeats=config.n_repeats,
        n_score=config.n_score,
        effect_on=config.effect_on,
    )
    labels = {
        "lead": text.LEAD_CHOICE,
        "own": f"{text.OWN_CHOICE} (`{config.target().expression}`)",
    }
    on = st.radio(
        "Compare the methods on",
        tuple(labels),
        key="cmp_on",
        format_func=labels.get,
        horizontal=True,
    )
    if on != "lead":
        return config
    st.info(readings.lead_why(config, lead), icon=":material/lightbulb:")
    st.button(
        "Make it my experiment",
        on_click=state.set_config,
        args=(lead,),
        icon=":material/swap_horiz:",
        help="Every page then shows this example (its effects over time, its table).",
    )
    return lead


def _all_or_first(options: list[str]) -> None:
    """The "all methods" switch: every fast method (the slow ones retrain), or the first few."""
    ss = st.session_state
    ss["cmp_methods"] = (
        [m for m in options if METHODS[m].fast] if ss["cmp_more"] else list(DEFAULT_METHODS)
    )


def _pick_methods(config: Config) -> tuple[list[str], bool]:
    """The chosen registry methods (random is always added by the core) and the TSR switch."""
    options = [m for m, spec in METHODS.items() if m != RANDOM and spec.base is None]
    n_trainings = config.n_features
    if config.n_features > STEPWISE_MAX_FEATURES:
        options.remove("stepwise")
    ss = st.session_state
    if "cmp_methods" not in ss:
        ss["cmp_methods"] = [m for m in DEFAULT_METHODS if m in options]
    chosen = st.multiselect(
        "Methods",
        options,
        key="cmp_methods",
        format_func=method_label,
        help="Random scores are always added as the chance row.",
    )
    more = [m for m in options if m not in DEFAULT_METHODS and METHODS[m].fast]
    left, right = st.columns(2, gap="medium")
    with left:
        st.toggle(
            "All methods",
            key="cmp_more",
            on_change=_all_or_first,
            args=(options,),
            help=f"Adds {readings.join(map(method_label, more))}; off: back to the first "
            f"{len(DEFAULT_METHODS)}. Backward stepwise elimination stays opt-in (it retrains).",
        )
    with right:
        tsr = st.checkbox(
            "Add temporal saliency rescaling (TSR) on top of input perturbation",
            key="cmp_tsr",
            help=text.TSR_HELP,
        )
    if "stepwise" in chosen:
        st.info(text.STEPWISE_NOTE.format(n=n_trainings), icon=":material/schedule:")
    elif "stepwise" in options:
        st.caption(
            "Random scores are always included as the chance row. Backward stepwise elimination "
            f"is opt-in: it retrains the model {n_trainings} times."
        )
    else:
        st.caption(text.STEPWISE_TOO_MANY.format(n=n_trainings, limit=STEPWISE_MAX_FEATURES))
    return _order(chosen), tsr


def _defaults(config: Config) -> dict[tuple[str, str], Any]:
    """Knob defaults taken from the experiment (``MethodSpec.from_config``: perturbation uses
    the config's σ and repeats)."""
    return {
        (name, key): value
        for name, spec in METHODS.items()
        if spec.from_config is not None
        for key, value in spec.from_config(config).items()
    }


def _steps(values, current: float, low: float, high: float, open_low: bool) -> list[float]:
    keep = {float(v) for v in values if (low < v if open_low else low <= v) and v <= high}
    return sorted(keep | {float(current)})


def _widget(method: str, p: Param, default: Any) -> Any:
    """One knob built from the core's Param (bounds from the Param, tighter when hosted)."""
    key = _key(method, p.name)
    label = p.label or p.name
    high = p.high
    if p.bound is not None:
        high = min(high, getattr(cache.bounds(), p.bound)[1])
    if key not in st.session_state:
        st.session_state[key] = list(default) if p.kind == "floats" else default
    if p.kind == "int":
        return st.slider(label, int(p.low), int(high), key=key, help=p.help or None)
    if p.kind == "float" and p.grid:
        return st.select_slider(
            label,
            _steps(p.grid, st.session_state[key], p.low, high, p.low_open),
            key=key,
            format_func=lambda v: f"{v:g}",
            help=p.help or None,
        )
    if p.kind == "float":
        return st.number_input(label, float(p.low), float(high), key=key, help=p.help or None)
    if p.kind == "bool":
        return st.checkbox(label, key=key, help=p.help or None)
    if p.kind == "choice":
        return st.radio(label, p.choices, key=key, horizontal=True, help=p.help or None)
    if p.kind == "floats":
        grid = p.grid or default
        options = sorted(
            {v for v in _steps(grid, default[0], p.low, high, p.low_open)} | set(default)
        )
        chosen = st.multiselect(
            label,
            options,
            key=key,
            format_func=lambda v: f"{v:g}",
            max_selections=p.length[1],
            help=f"{p.length[0]} to {p.length[1]} values",
        )
        return tuple(sorted(chosen))
    raise AssertionError(p.kind)


def _knobs(config: Config, chosen: list[str], tsr: bool) -> dict[str, dict[str, Any]]:
    """Per-method parameters from widgets built from each MethodSpec's params."""
    ss = st.session_state
    defaults = _defaults(config)
    stamp = (config.training_id(), config.sigma, config.n_repeats)
    if ss.get("cmp_defaults_for") != stamp:  # a new experiment: its σ and repeats again
        for (method, name), value in defaults.items():
            ss[_key(method, name)] = value
        ss["cmp_defaults_for"] = stamp
    shown = list(chosen)
    if tsr and "perturbation" not in shown:
        shown.insert(0, "perturbation")
    params: dict[str, dict[str, Any]] = {}
    with st.expander("Method settings", icon=":material/tune:"):
        any_knob = False
        for method in shown:
            spec = METHODS[method]
            knobs = [p for p in spec.params if p.kind != "trainer"]
            if method == "perturbation" and method not in chosen:
                knobs = [p for p in knobs if p.name in ("sigma", "n_repeats")]
            if not knobs:
                continue
            any_knob = True
            note = ""
            if method == "perturbation" and tsr:
                note = " (σ and repeats also drive TSR)" if method in chosen else " (for TSR)"
            st.markdown(f"**{spec.label}**{note}")
            values: dict[str, Any] = {}
            knobs.sort(key=lambda p: p.kind != "floats")  # lists first, in a wider column
            for start in range(0, len(knobs), KNOBS_PER_ROW):
                row = knobs[start : start + KNOBS_PER_ROW]
                widths = [2 if p.kind == "floats" else 1 for p in row]
                widths += [1] * (KNOBS_PER_ROW - len(row))
                for p, col in zip(row, st.columns(widths, gap="medium"), strict=False):
                    default = defaults.get((method, p.name), p.default)
                    with col:
                        value = _widget(method, p, default)
                    try:
                        values[p.name] = p.check(method, value)
                    except ValueError as exc:
                        components.error_box(f"{spec.label}: the default is used instead", exc)
                        values[p.name] = default
            params[method] = values
        if not any_knob:
            st.caption("None of the chosen methods has settings.")
    if tsr:
        base = params.get("perturbation", {})
        params[TSR] = {k: base[k] for k in ("sigma", "n_repeats") if k in base}
    return {m: p for m, p in params.items() if m in chosen or m == TSR}


def _fast_comparison(result: TrainResult, config: Config, methods: list[str], params: dict):
    try:
        model = describe_model(config)
        with st.spinner(f"Running {len(methods) + 1} methods on the trained {model}…"):
            return cache.comparison(result, config, methods, params)
    except ValueError as exc:
        components.error_box("These method settings cannot be used", exc)
    except Exception as exc:  # never show a traceback
        log.exception("comparison failed for %s", config)
        components.error_box("The comparison failed", f"{type(exc).__name__}: {exc}")
    return None


def _stepwise(result: TrainResult, config: Config):
    """The stepwise Comparison (trains F models in the background, with progress)."""
    try:
        job = cache.stepwise_job(result, config)
    except Exception as exc:
        log.exception("stepwise could not start for %s", config)
        components.error_box("Stepwise elimination could not start", exc)
        return None
    total = config.n_features
    if not job.done.is_set():
        slot = st.empty()
        with slot.container(border=True):
            st.markdown(
                f"**Backward stepwise elimination:** training the {describe_model(config)} "
                f"{total} times "
                "(once without each feature)…"
            )
            bar = st.progress(stepwise_fraction(job, total), text=job.status())
        wait_for(job, lambda j: bar.progress(stepwise_fraction(j, total), text=j.status()))
        slot.empty()
    if job.error is not None:
        if not isinstance(job.error, ValueError):
            log.error("stepwise failed for %s", config, exc_info=job.error)
        components.error_box(
            "Backward stepwise elimination failed", f"{type(job.error).__name__}: {job.error}"
        )
        st.button(
            "Retry stepwise elimination",
            on_click=cache.forget_stepwise,
            args=(config,),
            icon=":material/refresh:",
        )
        return None
    return job.result


def _agreement(comparison) -> None:
    """The methods' rank agreement: the heatmap and how to read it."""
    st.subheader("Do the methods agree?")
    left, right = st.columns([2.3, 1], gap="large")
    with left:
        charts.by_width(plots.agreement_heatmap, "cmp_agreement", comparison)
    with right:
        st.markdown(text.READ_AGREEMENT)


def _faithfulness(comparison) -> None:
    """Deletion and insertion curves: whether each method's order is the model's (no ground
    truth needed), the figure, how to read it and the numbers in words."""
    reading = readings.faithfulness_reading(comparison)
    if reading is None:
        return
    st.subheader("Does the model agree with each order?")
    charts.by_width(plots.faithfulness_curves, "cmp_curves", comparison)
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown(f"**Here:** {reading}")
    with right:
        st.markdown(text.READ_CURVES)
    with st.expander("Deletion and insertion scores of every method", icon=":material/table:"):
        st.table(readings.faithfulness_table(comparison), hide_index=True, border="horizontal")


def _method_figures(
    comparison, used: list[int], with_notes: bool, box: tuple[int, ...] | None = None
) -> None:
    """Each method's own figure, where it has one (``used``: the rule's features, starred;
    ``box``: planted evidence, outlined on a map); ``with_notes``: beside it, its note and the
    reading of its numbers (they speak of a rule)."""
    for name in comparison.methods:
        spec = METHODS.get(name)
        if spec is None or spec.figure is None:
            continue
        attribution = comparison.attributions[name]
        st.subheader(spec.figure_title)
        build = getattr(plots, spec.figure)
        if not with_notes:
            charts.by_width(build, f"cmp_{name}", attribution, used, box=box)
            continue
        left, right = st.columns([2.3, 1], gap="large")
        with left:
            charts.by_width(build, f"cmp_{name}", attribution, used, box=box)
        with right:
            st.markdown(text.FIGURE_NOTES[name])
            if spec.figure_reading is not None:
                here = getattr(readings, spec.figure_reading)(attribution, used)
                st.markdown(f"**Here:** {here}")


def _series_results(config: Config, comparison) -> None:
    """A real series' comparison: no ground truth, so no truth scores; each method's order,
    their agreement and their own figures."""
    st.subheader("Verdicts side by side")
    st.markdown(readings.rankings(comparison))
    # no truth: no bar is "used"
    charts.by_width(plots.method_multiples, "cmp_multiples", comparison, None)
    _agreement(comparison)
    _faithfulness(comparison)
    _method_figures(comparison, [], with_notes=False)
    components.downloads(
        (
            "Per-feature scores of every method (CSV)",
            tables.method_scores_csv(comparison, None),
            f"rnnviz-{config.training_id()}-compare-scores.csv",
            "text/csv",
        ),
    )


def _results(config: Config, result: TrainResult, comparison) -> None:
    rule = source_of(config).truth
    if rule is None:  # compare_methods ran with truth=None
        _series_results(config, comparison)
        return
    used = sorted(rule.features)
    methods = set(comparison.methods)

    st.subheader("Verdicts side by side")
    st.markdown(
        f"**This rule:** $y_t$ = 1 when {md_code(rule.expression)}, so it reads "
        f"{rule.describe_truth()}."
    )
    st.markdown(f"**What the methods say here:** {readings.verdict(comparison, used)}")
    charts.by_width(plots.method_multiples, "cmp_multiples", comparison, used)
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown(text.READ_MULTIPLES)
    with right:
        if any(spec_of(m).reads_weights for m in methods):
            st.info(text.WEIGHTS_CONTRAST, icon=":material/school:")

    st.subheader("Scored against the rule's ground truth")
    table = readings.truth_table(comparison, used)
    st.markdown(
        "\n".join(
            f"- **{label}:** {line}"
            for label, line in zip(table["method"], table["reading"], strict=True)
        )
    )
    note = readings.chance_note(comparison, used)
    if note:
        st.warning(note, icon=":material/casino:")
    with st.expander(
        "The numbers behind these lines: feature AUC, lag AUC, AUP, AUR, AUPR",
        icon=":material/table:",
    ):
        st.table({c: table[c] for c in readings.COLUMNS}, hide_index=True, border="horizontal")
        st.caption(text.READ_TABLE)
        st.markdown(
            "\n".join(f"- **{column}:** {line}" for column, line in text.METRIC_READINGS.items())
        )

    _agreement(comparison)
    _faithfulness(comparison)

    _method_figures(comparison, used, with_notes=True, box=getattr(rule, "rect", None))
    if "sigma_sweep" not in methods:
        st.caption(
            "Add *Perturbation across noise scales* to the methods to see how the ranking "
            "depends on σ."
        )

    st.markdown("**Downloads**")
    name = f"rnnviz-{config.training_id()}-compare"
    components.downloads(
        (
            "Comparison table (CSV)",
            tables.comparison_csv(comparison, used),
            f"{name}.csv",
            "text/csv",
        ),
        (
            "Per-feature scores of every method (CSV)",
            tables.method_scores_csv(comparison, used),
            f"{name}-scores.csv",
            "text/csv",
        ),
    )


def _over_seeds(config: Config) -> None:
    """The class's sweep (the server's ``sweep_dir``) over the seeds of this experiment's task:
    nothing without one, one line when it cannot be read or has no such task."""
    folder = cache.settings().sweep_dir
    if not folder:
        return
    try:
        rows = task_rows(load_sweep(folder), config)
    except SweepUnreadable as exc:
        log.warning("the sweep in %s cannot be shown: %s", folder, exc)
        st.caption(f"The class's sweep cannot be shown: {md_escape(exc)}.")
        return
    if rows.empty:
        st.caption("The class's sweep has no other seeds of this experiment.")
        return
    n = rows["seed"].nunique()
    with st.expander(f"Over {n} seeds (from the class's sweep)", icon=":material/table:"):
        st.markdown(md_escape(readings.seeds_reading(rows)))
        st.table(readings.seeds_table(rows), hide_index=True, border="horizontal")
        st.caption(text.SEEDS_NOTE)


def main() -> None:
    session = components.page_start()
    st.title("Compare methods")
    st.caption(text.INTRO)
    if state.shown_upload() is not None:
        st.info(
            "The comparison runs on a trained experiment, whose rule gives the ground truth "
            "the methods are scored against; your uploaded model is shown on the effects pages.",
            icon=":material/info:",
        )
    config = _subject(session)
    _over_seeds(config)
    result = components.trained_model(config)
    if result is None:
        components.no_model_info()
        return
    components.learned_notice(result)
    chosen, tsr = _pick_methods(config)
    params = _knobs(config, chosen, tsr)
    source = source_of(config)
    if source.fixed_counts:
        st.caption(
            f"Every method explains the same windows of the scored year {source.score_period}. "
            + text.SERIES_NO_TRUTH
        )
    else:
        st.caption(
            f"{text.INTRO_RULE} Every method explains the same {config.n_score} sequences (seed "
            f"{config.seed}) and counts only outputs whose target is defined; change the sample "
            "on the Per-feature effects page."
        )
    fast = [m for m in chosen if METHODS[m].fast] + ([TSR] if tsr else [])
    comparison = _fast_comparison(result, config, fast, params)
    if comparison is None:
        return
    if any(not METHODS[m].fast for m in chosen):  # they retrain: a background job
        step = _stepwise(result, config)
        if step is not None:
            comparison = merge_comparisons(comparison, step)
    scores = components.scores_or_error(result, config)  # the model's saturation check
    if scores is not None:
        components.saturation_notice(result, config, scores, "compare")
    kept = readings.probability_only_note(config, comparison.methods)
    if kept is not None:
        st.caption(kept)
    _results(config, result, comparison)


main()
