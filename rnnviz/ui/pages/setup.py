"""Setup & train: choose the task and the training recipe, train with progress, see the verdict."""

from __future__ import annotations

from dataclasses import fields

import streamlit as st

from rnnviz.config import (
    ACTIVATIONS,
    CELLS,
    DATA_KINDS,
    DATASETS,
    HEADS,
    OUTCOMES,
    PRESETS,
    REAL_SERIES,
    SCORING_KNOBS,
    Config,
    correlated_problem,
    describe_budget,
    describe_changes,
    describe_model,
    format_correlated,
    parse_correlated,
    series_preset,
)
from rnnviz.data.source import source_of
from rnnviz.data.split import check_balance, make_split
from rnnviz.report import plots
from rnnviz.report.readings import improving_note, training_verdict
from rnnviz.rules import RULE_PRESETS as RULES
from rnnviz.rules import Rule, get_rule
from rnnviz.training.result import longer
from rnnviz.ui import cache, components, state
from rnnviz.ui import text as texts
from rnnviz.ui.cache import bounds
from rnnviz.ui.text import md_code, md_escape

K = "setup_"  # prefix of this page's widget keys (drafts of the next configuration)
RECIPES = {
    "fast": ("Fast default (about 1 s)", PRESETS["default"]),
    "thread": ("The thread's exact recipe (slow, about 25 s)", PRESETS["reference"]),
}
# Knobs that the two recipes set differently; picking a recipe fills these in.
RECIPE_KNOBS = [
    f.name
    for f in fields(Config)
    if getattr(PRESETS["default"], f.name) != getattr(PRESETS["reference"], f.name)
]
MODEL_KNOBS = [k for k in RECIPE_KNOBS if k not in ("n_train", "epochs", "seed")]
# The knobs a real series shows on this page (the rest come from its preset: rnnviz.data.datasets);
# its window and features have widgets of their own (SERIES_WIDGETS: other ranges and types).
SERIES_KNOBS = ("outcome", "cell", "epochs", "seed", "units", "activations", "head")
SERIES_KNOBS += ("learning_rate", "batch_size", "patience")
SERIES_WIDGETS = {"seq_len": "series_window", "n_features": "series_features"}
SAMPLE_ROWS = 2000  # sequences drawn to check, live, that the rule yields both classes


def _widget_value(knob: str, value):
    if knob == "correlated":
        return format_correlated(value)
    return ", ".join(map(str, value)) if isinstance(value, tuple) else value


def _recipe_of(config: Config) -> str:
    for name, (_, preset) in RECIPES.items():
        if all(getattr(config, k) == getattr(preset, k) for k in MODEL_KNOBS):
            return name
    return "fast"


def _init_drafts(config: Config) -> None:
    """Fill the widgets from the current config (only those not already on screen)."""
    ss = st.session_state
    is_preset = config.rule in RULES
    values = {
        "rule_mode": "Preset" if is_preset else "Custom expression",
        "preset": config.rule if is_preset else ss.get(K + "last_preset", "reference"),
        "recipe": _recipe_of(config),
        **{
            f.name: _widget_value(f.name, getattr(config, f.name))
            for f in fields(Config)
            if f.name != "rule" and f.name not in SCORING_KNOBS
        },
    }
    start = config if config.data_kind.real else series_preset(REAL_SERIES[0])
    values.update({w: getattr(start, knob) for knob, w in SERIES_WIDGETS.items()})
    if K + "custom" not in ss:
        last = ss.get(K + "last_preset", "reference")
        values["custom"] = RULES[last].expression if is_preset else config.rule
    for key, value in values.items():
        if K + key not in ss:
            ss[K + key] = value


def _apply_recipe() -> None:
    ss = st.session_state
    preset = RECIPES[ss[K + "recipe"]][1]
    for knob in RECIPE_KNOBS:
        ss[K + knob] = _widget_value(knob, getattr(preset, knob))


def _switch_data() -> None:
    """Data choice callback: fill the form from the real series' preset (its features, window
    and recipe), or back from the default experiment's recipe for a synthetic rule."""
    ss = st.session_state
    dataset = ss[K + "dataset"]
    kind = DATA_KINDS[dataset]
    if kind.presets:  # a real series, planted evidence: its own shape and recipe
        start = series_preset(dataset, ss.get(K + "outcome", "rain") if kind.real else "rain")
        if kind.real:
            for knob, widget in SERIES_WIDGETS.items():
                ss[K + widget] = getattr(start, knob)
    else:
        start, ss[K + "recipe"] = PRESETS["default"], "fast"
    for f in fields(Config):
        if f.name not in ("rule", "dataset") and f.name not in SCORING_KNOBS:
            ss[K + f.name] = _widget_value(f.name, getattr(start, f.name))


def _series_section(config: Config) -> Config:
    """A real series' task: outcome, window and features; returns its preset for the outcome
    (the base of the draft: what this page does not show comes from it)."""
    ss = st.session_state
    st.radio("Outcome", list(OUTCOMES), key=K + "outcome", format_func=texts.OUTCOME_NAMES.get)
    c1, c2 = st.columns(2)
    kind = DATA_KINDS[ss[K + "dataset"]]
    lo, hi = kind.window  # a real series' windows and feature counts: its own
    c1.number_input("Window (days)", lo, min(hi, bounds().seq_len[1]), key=K + "series_window")
    c2.selectbox(
        "Features",
        kind.n_features,
        key=K + "series_features",
        format_func=texts.SERIES_FEATURES.get,
    )
    st.info(f"{texts.SERIES_HELP} {texts.SERIES_NO_TRUTH}", icon=":material/partly_cloudy_day:")
    return series_preset(ss[K + "dataset"], ss[K + "outcome"])


def _planted_section(config: Config) -> None:
    """Planted evidence: what the data is and where the evidence sits (its fixed shape and the
    box come with the choice; the form keeps the recipe, sizes and seed)."""
    source = source_of(series_preset(st.session_state[K + "dataset"]))
    truth = source.truth
    st.info(
        f"{texts.PLANTED_HELP} Here: {md_code(source.description())}.",
        icon=":material/select_all:",
    )
    if truth is not None:
        st.success(
            f"**Ground truth** (what the effects should find): {truth.describe_truth()}",
            icon=":material/check_circle:",
        )


def _planted_base(config: Config, dataset: str) -> Config:
    """What a planted-evidence draft keeps of what the form does not show: the experiment's
    own scoring knobs when it is of this data, else the data's preset's (its 50 x 50 sequences
    cannot be scored as often as a small rule's)."""
    return config if config.dataset == dataset else series_preset(dataset)


def _series_draft(config: Config, base: Config) -> Config:
    """The real-series configuration of the form (ConfigError when a setting is off)."""
    ss = st.session_state
    values = {k: ss[K + k] for k in SERIES_KNOBS if K + k in ss}
    values.update({knob: ss[K + w] for knob, w in SERIES_WIDGETS.items()})
    scoring = {k: getattr(config, k) for k in ("sigma", "n_repeats")}
    return Config.from_dict(values, base=base.replace(**scoring)).validate(bounds())


def _check_both_classes(config: Config, text: str, n_features: int, seq_len: int) -> None:
    """Raise DataError when the rule labels (almost) every step the same on a data sample."""
    try:
        probe = config.replace(
            rule=text,
            n_features=n_features,
            seq_len=seq_len,
            seed=st.session_state[K + "seed"],
            n_train=SAMPLE_ROWS,
            correlated=parse_correlated(st.session_state[K + "correlated"]),
        )
    except ValueError:  # another knob is off; the draft check below reports it
        return
    check_balance(make_split(probe, "train"))


def _rule_section(config: Config, n_features: int, seq_len: int) -> tuple[str, Rule | None]:
    """Preset picker or live-validated custom expression; returns (rule text, parsed or None)."""
    ss = st.session_state
    st.radio("Target rule", ["Preset", "Custom expression"], key=K + "rule_mode", horizontal=True)
    if ss[K + "rule_mode"] == "Preset":
        name = st.selectbox(
            "Preset",
            list(RULES),
            key=K + "preset",
            format_func=lambda n: f"{n}:  {RULES[n].expression}",
            label_visibility="collapsed",
        )
        ss[K + "last_preset"] = name
        text = name
    else:
        text = st.text_input(
            "Custom expression",
            key=K + "custom",
            live=True,
            max_chars=200,
            placeholder="e.g. x1[t-2] > 0.5",
            help=(
                "Features x1..xF at the current step, x1[t-2] two steps back; + - * /, "
                "comparisons, and/or/not, abs, min, max, and windows mean(e, k), wmin, wmax."
            ),
        )
    try:
        rule = get_rule(text, n_features=n_features, seq_len=seq_len)
        # A custom expression that is a preset's trains (and caches) as that preset.
        text = next((n for n, p in RULES.items() if p.expression == rule.expression), text)
        _check_both_classes(config, text, n_features, seq_len)
    except ValueError as exc:  # RuleError, DataError
        components.error_box("The rule cannot be used", exc)
        return text, None
    lines = [f"$y_t$ = 1 when {md_code(rule.expression)}"]
    if ss[K + "rule_mode"] == "Preset":
        lines.append(rule.description)
    lines.append(f"**Ground truth** (what the effects should find): {rule.describe_truth()}")
    st.success("  \n".join(lines), icon=":material/check_circle:")
    return text, rule


def _draft_form(config: Config) -> tuple[Config | None, bool]:
    """The setup widgets; returns (the configuration they describe or None when it cannot be
    used, whether the train button was pressed)."""
    b = bounds()
    ss = st.session_state
    _init_drafts(config)
    st.subheader("1 · The task")
    st.radio(
        "Data",
        DATASETS,
        key=K + "dataset",
        format_func=texts.DATASET_NAMES.get,
        horizontal=True,
        on_change=_switch_data,
    )
    kind = DATA_KINDS[ss[K + "dataset"]]
    real = kind.real
    planted = not kind.rule_made and not real  # its evidence planted: the shape is its own
    if real:  # no rule, no sizes, no correlated pairs and no two-class check: the data is real
        series = _series_section(config)
    elif planted:
        _planted_section(config)
    else:
        c1, c2 = st.columns(2)
        c1.number_input("Sequence length (steps)", *b.seq_len, key=K + "seq_len")
        c2.number_input("Features (x1, x2, …)", *b.n_features, key=K + "n_features")
        st.text_input(
            "Correlated features (optional)",
            key=K + "correlated",
            max_chars=200,
            placeholder="e.g. x1~x4:0.95",
            help=texts.CORRELATED_HELP,
        )
        # said under the field, in words, like a rule's error (not by the Train button)
        pairs_problem = correlated_problem(ss[K + "correlated"], ss[K + "n_features"])
        if pairs_problem is not None:
            components.error_box("The correlated features cannot be used", pairs_problem)
        text, rule = _rule_section(config, ss[K + "n_features"], ss[K + "seq_len"])

    st.subheader("2 · Training")
    if kind.rule_made:
        st.selectbox(
            "Recipe",
            list(RECIPES),
            key=K + "recipe",
            format_func=lambda r: RECIPES[r][0],
            on_change=_apply_recipe,
            help="Sets the model, optimiser and budget below; fine-tune them under Advanced.",
        )
    st.selectbox(
        "Recurrent cell",
        CELLS,
        key=K + "cell",
        format_func=lambda c: texts.CELL_NAMES[c],
        help=texts.CELL_HELP,
    )
    if ss[K + "cell"] == "bilstm":
        st.info(texts.BIDIRECTIONAL, icon=":material/swap_horiz:")
    c1, c2, c3 = st.columns(3)
    c1.number_input("Epochs", *b.epochs, key=K + "epochs")
    if not real:
        c2.number_input("Training sequences", *b.n_train, step=500, key=K + "n_train")
    c3.number_input("Seed", *b.seed, key=K + "seed")
    with st.expander("Advanced settings (model and optimiser)"):
        a1, a2 = st.columns(2)
        a1.text_input(
            "Layer sizes", key=K + "units", help="Comma-separated, e.g. 10, 5 (per direction)"
        )
        a2.text_input(
            "Activations (one per layer)",
            key=K + "activations",
            help=f"Comma-separated; each one of {', '.join(ACTIVATIONS)}",
        )
        a1.selectbox(
            "Output head",
            HEADS,
            key=K + "head",
            help="Per-step output layer: a sigmoid, or linear for a number (max temperature)",
        )
        a2.number_input(
            "Learning rate", *b.learning_rate, step=0.001, format="%.5f", key=K + "learning_rate"
        )
        a1.number_input("Batch size", *b.batch_size, key=K + "batch_size")
        a2.number_input(
            "Early-stopping patience", *b.patience, key=K + "patience", help="0 turns it off"
        )
        if not real:  # a real series: its windows, standardised on the training years
            a1.number_input("Validation sequences", *b.n_val, step=100, key=K + "n_val")
        if not kind.standardised:
            a2.checkbox(
                "Scale inputs",
                key=K + "input_scaling",
                help="The model's first layer (Rescaling) maps the inputs from [0, 1) to [-1, 1).",
            )

    draft = None
    if real:
        try:
            draft = _series_draft(config, series)
        except ValueError as exc:  # ConfigError
            components.error_box("Change this setting", exc)
    elif planted or (rule is not None and pairs_problem is None):
        # Scoring knobs are not here: they live on the effects page and are kept from `config`.
        values = {
            f.name: ss[K + f.name]
            for f in fields(Config)
            if f.name != "rule" and f.name not in SCORING_KNOBS
        }
        values["rule"] = config.rule if planted else text
        base = _planted_base(config, ss[K + "dataset"]) if planted else config
        try:
            draft = Config.from_dict(values, base=base).validate(b)
        except ValueError as exc:  # ConfigError
            components.error_box("Change this setting", exc)
    current = (
        draft is not None
        and draft.training_key() == config.training_key()
        and not components.training_failed(config)
    )
    if current:
        st.caption("These settings are the current experiment.")
    pressed = st.button(
        "Train this experiment",
        type="primary",
        disabled=draft is None or current,
        icon=":material/play_arrow:",
        width="stretch",
    )
    return draft, pressed and draft is not None


def _title(config: Config) -> str:
    """The experiment in a few words: its rule (or real series), its model with the cell named,
    epochs and seed (Markdown)."""
    model = f"{describe_model(config)} · {describe_budget(config)}, seed {config.seed}"
    return f"{components.task_markdown(config)} · {model}"


def _train_longer(new: Config) -> None:
    """Button callback: make ``new`` (more epochs) the experiment, and the form's draft."""
    st.session_state[K + "epochs"] = new.epochs
    components.retry_training(new)
    state.set_config(new)


def _results(config: Config, draft: Config | None) -> None:
    """The result of the trained experiment when the form describes it; else say that the
    form's settings are not trained yet and keep the previous result apart, labelled."""
    st.subheader("3 · Result")
    if draft is not None and draft.training_key() == config.training_key():
        st.markdown(f"**Result of** {_title(config)}")
        _result_body(config, current=True)
        return
    if draft is None:
        st.info(
            "Fix the settings on the left to train them. The other pages still show the "
            "previous experiment, below.",
            icon=":material/edit:",
        )
    else:  # what differs from the previous experiment, so the two never read the same
        changes = md_escape(describe_changes(config, draft))
        changed = f"Changed from the previous experiment: {changes}."
        if cache.model_store().has(draft):
            st.info(
                f"The settings on the left, {_title(draft)}, are trained already but not shown: "
                f"**press Train** to show them. {changed} The other pages still show the "
                "previous experiment, below.",
                icon=":material/play_arrow:",
            )
        else:
            st.info(
                f"The settings on the left, {_title(draft)}, are **not trained yet — press "
                f"Train**. {changed} The other pages still show the previous experiment, below.",
                icon=":material/play_arrow:",
            )
    with st.expander(f"Previous experiment: {_title(config)}"):
        _result_body(config, current=False)


def _result_body(config: Config, current: bool) -> None:
    """Verdict, metrics, training curve, links and downloads of the experiment ``config``;
    for the current one, an offer to train longer when validation loss was still falling."""
    result = components.trained_model(config)
    if result is None:
        return
    components.verdict_box(result)
    note = improving_note(result.history)
    if current and note is not None:
        more = longer(config, bounds())
        st.info(
            note + (" Training longer may help." if more else " No more epochs fit here."),
            icon=":material/trending_down:",
        )
        if more is not None:
            st.button(
                f"Train longer ({more.epochs} epochs)",
                on_click=_train_longer,
                args=(more,),
                icon=":material/fast_forward:",
            )
    if source_of(config).has_forecast:
        _series_metrics(result)
    else:
        _metrics(result)
    curve = plots.training_curve(result.history)
    if config.task == "regression":  # its loss is the mean squared error, in °C²
        curve.update_yaxes(title_text="mean squared error, °C² (lower is better)")
    st.plotly_chart(curve, theme="streamlit", key="curve")
    st.markdown("**Next:** see which inputs the trained model relies on.")
    l1, l2 = st.columns(2)
    l1.page_link(components.FEATURES_PAGE, label="Per-feature effects", icon=":material/bar_chart:")
    l2.page_link(components.TIMESTEPS_PAGE, label="Per-timestep effects", icon=":material/grid_on:")
    components.config_downloads(config, result)


def _series_metrics(result) -> None:
    """A real series' model on the scored year beside its baselines, and its training."""
    forecast, _ = cache.forecast(result)
    m1, m2, m3, m4 = st.columns(4)
    if "accuracy" in forecast:
        m1.metric("Accuracy 2015", f"{forecast['accuracy']:.1%}", help="Rain tomorrow, right")
        m2.metric(
            "Majority",
            f"{forecast['majority_accuracy']:.1%}",
            help="Accuracy of always guessing the more common outcome of 2015",
        )
        m3.metric(
            "Persistence",
            f"{forecast['persistence_accuracy']:.1%}",
            help="Accuracy of 'tomorrow like today': rain tomorrow if it rained today",
        )
    else:
        m1.metric("R² 2015", f"{forecast['r2']:.3f}", help="Against the training years' mean")
        m2.metric("RMSE", f"{forecast['mse'] ** 0.5:.2f} °C", help="Typical error of the model")
        m3.metric(
            "Persistence RMSE",
            f"{forecast['persistence_mse'] ** 0.5:.2f} °C",
            help=f"Typical error of 'tomorrow like today' (R² {forecast['persistence_r2']:.3f})",
        )
    m4.metric("Epochs", f"{result.epochs_run} / {result.config.epochs}", help="Run / budget")
    st.caption(training_verdict(result))  # the validation year's numbers


def _metrics(result) -> None:
    """A synthetic experiment's validation accuracy, baseline, epochs and time."""
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(
        "Accuracy",
        f"{result.val_accuracy:.1%}",
        help="Validation accuracy on the steps where the rule is defined.",
    )
    m2.metric(
        "Baseline",
        f"{result.baseline_accuracy:.1%}",
        help="Accuracy of always guessing the majority class: the bar to clear.",
    )
    m3.metric("Epochs", f"{result.epochs_run} / {result.config.epochs}", help="Run / budget")
    m4.metric("Time", f"{result.seconds:.1f} s", help="Training time")


def main() -> None:
    config = components.page_start()
    st.title("Setup & train")
    st.caption(texts.SETUP_CAPTION)
    st.page_link(  # the landing page: one click to the lessons, for a first visit
        components.LESSONS_PAGE, label=texts.LESSONS_POINTER, icon=":material/cast_for_education:"
    )
    left, right = st.columns([1, 1.15], gap="large")
    with left:
        draft, pressed = _draft_form(config)
    if pressed and draft is not None:
        components.retry_training(draft)
        state.set_config(draft)
        st.rerun()  # redraw every part (sidebar included) for the new experiment, then train
    with right:
        _results(config, draft)


main()
