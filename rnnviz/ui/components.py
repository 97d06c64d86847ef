"""Pieces every page shares: the page frame, training with progress, warnings and downloads."""

from __future__ import annotations

import functools
import logging

import streamlit as st

from rnnviz.config import Config
from rnnviz.jobs import BusyError, wait_for
from rnnviz.model import TrainResult
from rnnviz.rules import RuleError
from rnnviz.scoring import PerturbationResult
from rnnviz.ui import cache, state, tables

log = logging.getLogger(__name__)

SETUP_PAGE = "rnnviz/ui/pages/setup.py"
FEATURES_PAGE = "rnnviz/ui/pages/features.py"
TIMESTEPS_PAGE = "rnnviz/ui/pages/timesteps.py"
LEARN_PAGE = "rnnviz/ui/pages/learn.py"
COMPARE_PAGE = "rnnviz/ui/pages/compare.py"
UPLOAD_PAGE = "rnnviz/ui/pages/upload.py"


def page_start() -> Config:
    """Common top of every page: the session's config, a bad-link error, the sidebar summary."""
    config = state.current_config()
    message = state.url_error()
    if message:
        error_box(
            "This link's settings could not be used, so the default experiment is shown", message
        )
    sidebar(config)
    return config


def error_box(title: str, error: BaseException | str) -> None:
    """An st.error saying what to change; a rule error keeps its caret under the bad part."""
    text = str(error)
    if isinstance(error, RuleError) and error.position is not None and "\n" in text:
        message, _, pointer = text.partition("\n")
        body = f"**{title}:** {message}\n\n```text\n{pointer}\n```"
    else:
        first, _, rest = text.partition("\n")
        body = f"**{title}:** {first}"
        if rest.strip():
            body += f"\n\n```text\n{rest}\n```"
    st.error(body, icon=":material/error:")


def describe_rule(config: Config) -> tuple[str, str] | None:
    """(expression, ground truth) of the config's rule, or None if it cannot be parsed."""
    try:
        rule = config.target()
    except ValueError:
        return None
    return rule.expression, rule.describe_truth()


def sidebar(config: Config) -> None:
    with st.sidebar:
        st.markdown("### Current experiment")
        described = describe_rule(config)
        if described:
            expression, truth = described
            st.markdown(f"**Rule:** $y_t$ = 1 when `{expression}`")
            st.markdown(f"**Ground truth:** {truth}")
        layers = " → ".join(map(str, config.units))
        st.markdown(
            f"**Data:** {config.n_features} features × {config.seq_len} steps, "
            f"{config.n_train:,} training sequences  \n"
            f"**Model:** LSTM {layers} ({', '.join(config.activations)}), {config.head} head  \n"
            f"**Training:** {config.epochs} epochs, seed {config.seed}  \n"
            f"**Scoring:** σ = {config.sigma:g}, {config.n_repeats} repeats, "
            f"{config.n_score} sequences"
        )
        st.caption(
            "The browser's address holds this configuration: copy it to share exactly this "
            "experiment."
        )
        if cache.settings().hosted:
            st.caption(
                "Hosted demo: sizes are capped and one training runs at a time (others queue)."
            )
        notice = cache.model_store().notice
        if notice:
            st.warning(f"Model cache: {notice}", icon=":material/warning:")


def trained_model(config: Config) -> TrainResult | None:
    """The trained model of ``config``: cached, or trained now (in the background) with progress.

    Returns None (after showing an error) when the configuration cannot be trained.
    """
    store = cache.model_store()
    result = store.get(config)
    if result is not None:
        return result
    try:
        job = cache.training_jobs().submit(store, config)
    except BusyError as exc:
        error_box("Training is not possible right now", exc)
        return None
    if not job.done.is_set():
        expression = (describe_rule(config) or (config.rule, ""))[0]
        slot = st.empty()
        with slot.container(border=True):
            st.markdown(f"**Training the LSTM** on $y_t$ = 1 when `{expression}` …")
            bar = st.progress(job.fraction, text=job.status())
        wait_for(job, lambda j: bar.progress(j.fraction, text=j.status()))
        slot.empty()
    if job.error is None and job.result is not None:
        return job.result
    if isinstance(job.error, ValueError):  # ConfigError, RuleError, DataError: fixable
        error_box("This configuration could not be trained", job.error)
    else:  # never show a traceback; the operator finds it in the log
        log.error("training failed for %s", config, exc_info=job.error)
        error_box("Training failed", f"{type(job.error).__name__}: {job.error}")
    return None


def training_failed(config: Config) -> bool:
    return cache.training_jobs().failed(config) is not None


def retry_training(config: Config) -> None:
    """Forget a failed training of ``config`` so that the next visit trains it again."""
    cache.training_jobs().forget(config)


def learned_notice(result: TrainResult) -> None:
    """A visible warning when the model did not learn (its effects describe a guess)."""
    if not result.learned:
        st.warning(result.verdict(), icon=":material/warning:")


def no_model_info() -> None:
    st.info(
        "There is no trained model for this experiment yet. Set one up and train it first.",
        icon=":material/info:",
    )
    st.page_link(SETUP_PAGE, label="Go to Setup & train", icon=":material/arrow_forward:")


def scores_or_error(result: TrainResult, config: Config) -> PerturbationResult | None:
    """Cached perturbation scores, or None after an error message."""
    try:
        return cache.scores(result, config)
    except ValueError as exc:
        error_box("These scoring settings cannot be used", exc)
    except Exception as exc:  # never show a traceback
        log.exception("scoring failed for %s", config)
        error_box("Scoring failed", f"{type(exc).__name__}: {exc}")
    return None


def config_downloads(config: Config, result: TrainResult) -> None:
    """Download buttons for the trained model and the configuration."""
    name = f"rnnviz-{config.training_id()}"
    c1, c2 = st.columns(2)
    c1.download_button(
        "Model (.keras)",
        data=functools.partial(cache.model_bytes, result),
        file_name=f"{name}.keras",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )
    c2.download_button(
        "Configuration (JSON)",
        data=config.to_json(),
        file_name=f"{name}-config.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )


def score_downloads(config: Config, result: TrainResult, scores: PerturbationResult) -> None:
    """Download buttons for the scores (CSV, JSON), the model and the configuration."""
    name = f"rnnviz-{config.training_id()}-sigma{config.sigma:g}"
    c1, c2 = st.columns(2)
    c1.download_button(
        "Scores (CSV)",
        data=tables.scores_csv(scores),
        file_name=f"{name}-scores.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )
    c2.download_button(
        "Scores + configuration (JSON)",
        data=tables.scores_json(scores, config),
        file_name=f"{name}-scores.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )
    config_downloads(config, result)
