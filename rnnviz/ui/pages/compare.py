"""Compare methods: the thread's MLP methods (and newer ones) on one trained LSTM, vs the truth.

Layout only: the methods, their scores against the rule's ground truth and the rank agreement
come from :func:`rnnviz.experiment.compare_methods` (through ``cache``); the plots from
:mod:`rnnviz.plots`; the readings from :mod:`rnnviz.ui.compare_text`.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from rnnviz import plots
from rnnviz.config import Config
from rnnviz.experiment import DISAGREEMENT_EXAMPLE, FIRST_METHODS
from rnnviz.jobs import wait_for
from rnnviz.methods import METHODS, STEPWISE_MAX_FEATURES, Param, merge_comparisons
from rnnviz.result import TrainResult
from rnnviz.ui import cache, components, state
from rnnviz.ui import compare_text as text
from rnnviz.ui.text import md_code

log = logging.getLogger(__name__)

DEFAULT_METHODS = FIRST_METHODS
TSR = "tsr:perturbation"
SIGMA_STEPS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
GRIDS = {  # choices offered for list-valued parameters
    "sigmas": SIGMA_STEPS,
    "quantiles": (0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0),
}
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
        sigma=config.sigma, n_repeats=config.n_repeats, n_score=config.n_score
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
    st.info(text.lead_why(config, lead), icon=":material/lightbulb:")
    st.button(
        "Make it my experiment",
        on_click=state.set_config,
        args=(lead,),
        icon=":material/swap_horiz:",
        help="Every page then shows this example (its effects over time, its table).",
    )
    return lead


def _all_or_first(options: list[str]) -> None:
    """The "all methods" switch: every method but stepwise (it retrains), or the first few."""
    ss = st.session_state
    ss["cmp_methods"] = (
        [m for m in options if m != "stepwise"] if ss["cmp_more"] else list(DEFAULT_METHODS)
    )


def _pick_methods(config: Config) -> tuple[list[str], bool]:
    """The chosen registry methods (random is always added by the core) and the TSR switch."""
    options = [m for m in METHODS if m != "random"]
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
        format_func=plots.method_label,
        help="Random scores are always added as the chance row.",
    )
    more = [m for m in options if m not in DEFAULT_METHODS and m != "stepwise"]
    left, right = st.columns(2, gap="medium")
    with left:
        st.toggle(
            "All methods",
            key="cmp_more",
            on_change=_all_or_first,
            args=(options,),
            help=f"Adds {text.join(map(plots.method_label, more))}; off: back to the first "
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
    """Knob defaults that differ from the registry's: perturbation uses the config's σ, repeats."""
    return {
        ("perturbation", "sigma"): config.sigma,
        ("perturbation", "n_repeats"): config.n_repeats,
    }


def _steps(values, current: float, low: float, high: float, open_low: bool) -> list[float]:
    keep = {float(v) for v in values if (low < v if open_low else low <= v) and v <= high}
    return sorted(keep | {float(current)})


def _widget(method: str, p: Param, default: Any) -> Any:
    """One knob built from the core's Param (bounds from the Param, tighter when hosted)."""
    key = _key(method, p.name)
    label = text.PARAM_LABELS.get(p.name, p.name)
    b = cache.bounds()
    high = p.high
    if p.name == "n_repeats":
        high = min(high, b.n_repeats[1])
    if p.name in ("sigma", "sigmas"):
        high = min(high, b.sigma[1])
    if key not in st.session_state:
        st.session_state[key] = list(default) if p.kind == "floats" else default
    if p.kind == "int":
        return st.slider(label, int(p.low), int(high), key=key, help=p.help or None)
    if p.kind == "float" and p.name == "sigma":
        return st.select_slider(
            label,
            _steps(SIGMA_STEPS, st.session_state[key], p.low, high, p.low_open),
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
        grid = GRIDS.get(p.name, default)
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
            knobs = [p for p in spec.params if p.kind != "callable"]
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
        with st.spinner(f"Running {len(methods) + 1} methods on the trained LSTM…"):
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
    if not job.done.is_set():
        slot = st.empty()
        with slot.container(border=True):
            st.markdown(
                f"**Backward stepwise elimination:** training the LSTM {job.total} times "
                "(once without each feature)…"
            )
            bar = st.progress(job.fraction, text=job.status())
        wait_for(job, lambda j: bar.progress(j.fraction, text=j.status()))
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
    return job.comparison


def _results(config: Config, result: TrainResult, comparison) -> None:
    rule = config.target()
    used = sorted(rule.features)
    methods = set(comparison.methods)

    st.subheader("Verdicts side by side")
    st.markdown(
        f"**This rule:** $y_t$ = 1 when {md_code(rule.expression)}, so it reads "
        f"{rule.describe_truth()}."
    )
    st.markdown(f"**What the methods say here:** {text.verdict(comparison, used)}")
    st.plotly_chart(
        plots.method_multiples(comparison, used), theme="streamlit", key="cmp_multiples"
    )
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown(text.READ_MULTIPLES)
    with right:
        if methods & set(text.WEIGHT_METHODS):
            st.info(text.WEIGHTS_CONTRAST, icon=":material/school:")

    st.subheader("Scored against the rule's ground truth")
    table = text.table(comparison, used)
    st.markdown(
        "\n".join(
            f"- **{label}:** {line}"
            for label, line in zip(table["method"], table["reading"], strict=True)
        )
    )
    note = text.chance_note(comparison, used)
    if note:
        st.warning(note, icon=":material/casino:")
    with st.expander(
        "The numbers behind these lines: feature AUC, lag AUC, AUP, AUR, AUPR",
        icon=":material/table:",
    ):
        st.table({c: table[c] for c in text.COLUMNS}, hide_index=True, border="horizontal")
        st.caption(text.READ_TABLE)
        st.markdown(
            "\n".join(f"- **{column}:** {line}" for column, line in text.METRIC_READINGS.items())
        )

    st.subheader("Do the methods agree?")
    left, right = st.columns([2.3, 1], gap="large")
    with left:
        st.plotly_chart(plots.rank_agreement(comparison), theme="streamlit", key="cmp_agreement")
    with right:
        st.markdown(text.READ_AGREEMENT)

    if "lek" in methods:
        st.subheader("Sensitivity analysis: response curves")
        left, right = st.columns([2.3, 1], gap="large")
        with left:
            st.plotly_chart(
                plots.lek_profiles(comparison.attributions["lek"], used),
                theme="streamlit",
                key="cmp_lek",
            )
        with right:
            st.markdown(text.READ_LEK)

    if "sigma_sweep" in methods:
        st.subheader("Does the ranking depend on σ?")
        sweep = comparison.attributions["sigma_sweep"]
        left, right = st.columns([2.3, 1], gap="large")
        with left:
            st.plotly_chart(
                plots.sigma_sweep_curves(sweep, used), theme="streamlit", key="cmp_sweep"
            )
        with right:
            st.markdown(text.READ_SWEEP)
            st.markdown(f"**Here:** {text.sweep_reading(sweep, used)}")
    else:
        st.caption(
            "Add *Perturbation across noise scales* to the methods to see how the ranking "
            "depends on σ."
        )

    st.markdown("**Downloads**")
    name = f"rnnviz-{config.training_id()}-compare"
    components.downloads(
        ("Comparison table (CSV)", text.table_csv(comparison, used), f"{name}.csv", "text/csv"),
        (
            "Per-feature scores of every method (CSV)",
            text.scores_csv(comparison, used),
            f"{name}-scores.csv",
            "text/csv",
        ),
    )


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
    result = components.trained_model(config)
    if result is None:
        components.no_model_info()
        return
    components.learned_notice(result)
    chosen, tsr = _pick_methods(config)
    params = _knobs(config, chosen, tsr)
    st.caption(
        f"Every method explains the same {config.n_score} sequences (seed {config.seed}) and "
        "counts only outputs whose target is defined; change the sample on the Per-feature "
        "effects page."
    )
    fast = [m for m in chosen if m != "stepwise"] + ([TSR] if tsr else [])
    comparison = _fast_comparison(result, config, fast, params)
    if comparison is None:
        return
    if "stepwise" in chosen:
        step = _stepwise(result, config)
        if step is not None:
            comparison = merge_comparisons(comparison, step)
    _results(config, result, comparison)


main()
