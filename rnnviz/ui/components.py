"""Pieces every page shares: the page frame, training with progress, warnings and downloads.

The results pages explain a :class:`Subject`: the trained experiment of the session's config,
or the model the user uploaded (``current_subject``), so one page body serves both.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Imported here, once, before any page draws: plotly imports pandas lazily and looks in
# sys.modules first, so two sessions drawing their first chart at once could get a half-imported
# pandas ("partially initialized module 'pandas' has no attribute 'Series'"), now that no
# TensorFlow import in this process brings pandas in early.
import pandas  # noqa: F401
import streamlit as st

from rnnviz.attr.scoring import PerturbationResult
from rnnviz.config import Config, ConfigError, describe_model
from rnnviz.data import datasets
from rnnviz.data.source import source_of
from rnnviz.experiment import feature_names, ground_truth
from rnnviz.report.readings import (
    counted_outputs,
    series_reading,
    training_verdict,
    upload_regression_verdict,
)
from rnnviz.rules import Rule
from rnnviz.serve.jobs import BusyError, wait_for
from rnnviz.serve.uploads import Upload
from rnnviz.training.result import TrainResult
from rnnviz.ui import cache, state, tables, training_view
from rnnviz.ui import text as texts
from rnnviz.ui.text import md_code, md_escape, md_fence

log = logging.getLogger(__name__)

# Absolute paths from this file: the pages are found wherever rnnviz is installed, whatever the
# working directory and wherever the app script is (Streamlit resolves relative ones from it).
_PAGES_DIR = Path(__file__).resolve().parent / "pages"
SETUP_PAGE = str(_PAGES_DIR / "setup.py")
FEATURES_PAGE = str(_PAGES_DIR / "features.py")
TIMESTEPS_PAGE = str(_PAGES_DIR / "timesteps.py")
LEARN_PAGE = str(_PAGES_DIR / "learn.py")
COMPARE_PAGE = str(_PAGES_DIR / "compare.py")
UPLOAD_PAGE = str(_PAGES_DIR / "upload.py")
LESSONS_PAGE = str(_PAGES_DIR / "lessons.py")
# The app's pages in navigation order: (script, title, icon, url path). Titles are short, so
# that all seven fit the top bar beside the sidebar on a laptop (else some fold into "more").
# Setup is the default page, served at the app's root; app.py builds st.navigation from this.
PAGES = (
    (SETUP_PAGE, "Setup", ":material/tune:", "setup"),
    (FEATURES_PAGE, "Features", ":material/bar_chart:", "features"),
    (TIMESTEPS_PAGE, "Timesteps", ":material/grid_on:", "timesteps"),
    (COMPARE_PAGE, "Compare", ":material/compare_arrows:", "compare"),
    (UPLOAD_PAGE, "Your model", ":material/upload_file:", "upload"),
    (LEARN_PAGE, "Learn", ":material/school:", "learn"),
    (LESSONS_PAGE, "Lessons", ":material/cast_for_education:", "lessons"),
)
NAV_KEY = "page_links"
MOBILE_WIDTH_PX = 768  # Streamlit's breakpoint: narrower, the top navigation folds into the sidebar


def page_links() -> None:
    """Links to every page inside the page, shown only below Streamlit's mobile breakpoint, where
    the top navigation is folded into the sidebar (reachable only through its button)."""
    hide = f'.st-key-{NAV_KEY}, [data-testid="stLayoutWrapper"]:has(> .st-key-{NAV_KEY})'
    st.html(
        f"<style>@media (min-width: {MOBILE_WIDTH_PX}px) {{ {hide} {{ display: none; }} }}</style>"
    )
    with st.container(key=NAV_KEY, horizontal=True, gap="small"):
        for page, title, icon, _ in PAGES:
            st.page_link(page, label=title, icon=icon)


def page_start() -> Config:
    """Common top of every page: the page links (phone width), the session's config, a bad-link
    error, the sidebar summary."""
    page_links()
    config = state.current_config()
    message = state.url_error()
    if message:
        error_box(
            "This link's settings could not be used, so the default experiment is shown", message
        )
    notice = state.url_notice()
    if notice:
        st.info(notice, icon=":material/info:")
    sidebar(config)
    return config


def results_page_start(title: str, caption: str) -> tuple[Config, Subject] | None:
    """Top of a results page: title, the subject to explain (trained or uploaded) and its skill
    notice; None (after saying what to do) when there is nothing to explain yet."""
    config = page_start()
    st.title(title)
    st.caption(caption)
    subject = current_subject(config)
    if subject is None:
        no_model_info()
        return None
    skill_notice(subject)
    return config, subject


def error_box(title: str, error: BaseException | str) -> None:
    """An st.error saying what to change; a rule error keeps its caret under the bad part.

    ``title`` is Markdown (ours); the error's text is shown literally (it may quote user text).
    """
    if isinstance(error, ConfigError):  # say the range in force (hosted bounds are tighter)
        error = state.in_bounds(error, cache.bounds())
    # The message quotes what the user typed or uploaded: its first line is escaped, the rest
    # (a rule error's caret under the bad part) is kept as typed in a code block.
    first, _, rest = str(error).partition("\n")
    body = f"**{title}:** {md_escape(first)}"
    if rest.strip():
        body += f"\n\n{md_fence(rest)}"
    st.error(body, icon=":material/error:")


def describe_rule(config: Config) -> tuple[str, str] | None:
    """(expression, ground truth) of the config's rule, or None if it cannot be parsed (or
    the config is a real series, which has no rule)."""
    try:
        rule = source_of(config).rule
    except ValueError:
        return None
    return None if rule is None else (rule.expression, rule.describe_truth())


def task_markdown(config: Config) -> str:
    """The experiment's task in Markdown: "$y_t$ = 1 when `expression`" for data labelled by a
    rule (its text as typed if it cannot be parsed), else the data's own description."""
    source = source_of(config)
    if not source.kind.rule_made:
        return source.description()
    expression = (describe_rule(config) or (config.rule, ""))[0]
    return f"$y_t$ = 1 when {md_code(expression)}"


def sidebar(config: Config) -> None:
    with st.sidebar:
        upload = state.shown_upload()
        if upload is not None:
            _upload_sidebar(upload)
        else:
            _experiment_sidebar(config)
        if cache.settings().hosted:
            st.caption(
                "Hosted demo: sizes are capped and one training runs at a time (others queue)."
            )
        notice = cache.model_store().notice
        if notice:
            st.warning(f"Model cache: {notice}", icon=":material/warning:")


def subject_switch(to_upload: bool, key: str, where=st) -> None:
    """A button that makes the results pages show the upload (True) or the experiment."""
    where.button(
        "Show my uploaded model" if to_upload else "Back to the trained experiment",
        key=key,
        on_click=state.show_upload,
        args=(to_upload,),
        icon=":material/upload_file:" if to_upload else ":material/undo:",
    )


def _upload_sidebar(upload: Upload) -> None:
    st.markdown("### Shown: your uploaded model")
    st.markdown(
        f"**Model:** {upload.describe_model(md_code)}  \n**Data:** {upload.describe_data(md_code)}"
    )
    st.caption(
        "No ground truth: nobody told rnnviz which inputs your target depends on. Only this "
        "browser session sees your upload, and the page's link does not include it."
    )
    subject_switch(False, key="sidebar_show_experiment")


def _experiment_sidebar(config: Config) -> None:
    # With an upload kept aside, say plainly which of the two the results pages show.
    st.markdown(
        "### Shown: the trained experiment" if state.uploaded() else "### Current experiment"
    )
    described = describe_rule(config)
    if described:
        expression, truth = described
        st.markdown(f"**Rule:** $y_t$ = 1 when {md_code(expression)}")
        st.markdown(f"**Ground truth:** {truth}")
    data = (
        f"{config.n_features} features × {config.seq_len} steps, "
        f"{config.n_train:,} training sequences"
    )
    source = source_of(config)
    if source.truth is None:
        data = f"{source.description()} (real data: no ground truth)"
    st.markdown(
        f"**Data:** {data}  \n"
        f"**Model:** {describe_model(config)}  \n"
        f"**Training:** {config.epochs} epochs, seed {config.seed}  \n"
        f"**Scoring:** σ = {config.sigma:g}, {config.n_repeats} repeats, "
        f"{config.n_score} sequences"
    )
    st.caption(
        "The browser's address holds this configuration: copy it to share exactly this experiment."
    )
    if state.uploaded() is not None:
        subject_switch(True, key="sidebar_show_upload")


def trained_model(config: Config) -> TrainResult | None:
    """The trained model of ``config``: cached, or trained now (in the background) with progress.

    Returns None (after showing an error) when the configuration cannot be trained.
    """
    store = cache.model_store()
    result = store.get(config)
    if result is not None:
        return result
    job = _submit_when_admitted(store, config)
    if job is None:
        return None
    if not job.done.is_set():
        task = task_markdown(config)
        slot = st.empty()
        with slot.container(border=True):
            st.markdown(f"**Training the {texts.CELL_NAMES[config.cell]}** on {task} …")
            bar = st.progress(job.fraction, text=job.status())
            now = training_view.live(  # what the network relies on now
                st.empty(), config, key=f"live_{config.training_id()}"
            )

        def report(j) -> None:
            bar.progress(j.fraction, text=j.status())
            now(j)

        wait_for(job, report)
        slot.empty()
    if job.error is None and job.result is not None:
        return job.result
    if isinstance(job.error, ValueError):  # ConfigError, RuleError, DataError: fixable
        error_box("This configuration could not be trained", job.error)
    else:  # never show a traceback; the operator finds it in the log
        log.error("training failed for %s", config, exc_info=job.error)
        name = getattr(job.error, "name", type(job.error).__name__)
        error_box("Training failed", f"{name}: {job.error}")
        st.button(
            "Try again",
            on_click=retry_training,
            args=(config,),
            icon=":material/refresh:",
            key=f"retry_{config.training_id()}",
        )
    return None


BUSY_RETRY_S = 2.0  # how often a refused training is submitted again
BUSY_GIVE_UP_S = 600.0


def _submit_when_admitted(store, config: Config):
    """Submit the training of ``config``; while the server's queue is full, say so and
    submit again every few seconds (the visitor presses nothing). None after giving up."""
    jobs = cache.training_jobs()
    slot = None
    deadline = time.monotonic() + BUSY_GIVE_UP_S
    while True:
        try:
            job = jobs.submit(store, config)
        except BusyError as exc:
            if time.monotonic() > deadline:
                if slot is not None:
                    slot.empty()
                error_box("Training is not possible right now", exc)
                return None
            if slot is None:
                slot = st.empty()
            slot.info(f"Waiting to queue your training: {exc}.", icon=":material/hourglass:")
            time.sleep(BUSY_RETRY_S)
            continue
        if slot is not None:
            slot.empty()
        return job


def training_failed(config: Config) -> bool:
    return cache.training_jobs().failed(config) is not None


def retry_training(config: Config) -> None:
    """Forget a failed training of ``config`` so that the next visit trains it again."""
    cache.training_jobs().forget(config)


def verdict_box(result: TrainResult) -> None:
    """The verdict with its grade's colour: success when learned, a caution when partly
    learned, a warning when it did not learn. A real series has no rule to learn: its verdict
    is the forecast against the baselines (:func:`series_verdict_box`)."""
    if source_of(result.config).has_forecast:
        series_verdict_box(result)
        return
    if result.grade == "learned":
        st.success(training_verdict(result), icon=":material/check_circle:")
    elif result.grade == "partly learned":
        st.warning(training_verdict(result), icon=":material/error:")
    else:
        st.warning(training_verdict(result), icon=":material/warning:")


def series_verdict_box(result: TrainResult) -> None:
    """A real series' verdict on the scored year against the more common outcome (or the
    training mean) and persistence: success when it beats persistence, info when it only
    beats the simpler baseline, a warning otherwise."""
    try:
        forecast, verdict = cache.forecast(result)
    except Exception as exc:  # never show a traceback
        log.exception("forecast scoring failed for %s", result.config)
        error_box("The forecasts could not be scored", f"{type(exc).__name__}: {exc}")
        return
    standing = datasets.forecast_standing(forecast)
    if standing == "persistence":
        st.success(verdict, icon=":material/check_circle:")
    elif standing == "simple":
        st.info(verdict, icon=":material/info:")
    else:
        st.warning(verdict, icon=":material/warning:")


def learned_notice(result: TrainResult) -> None:
    """A visible caution when the model only partly learned (its effects describe a model that
    is only partly right) or a warning when it did not learn (they describe a guess). A real
    series' model always shows its verdict against the baselines: there is no grade to pass."""
    if source_of(result.config).has_forecast:
        series_verdict_box(result)
    elif result.grade != "learned":
        verdict_box(result)


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


def downloads(*items: tuple[str, Any, str, str]) -> None:
    """Download buttons side by side: (label, data or a function making it, file name, mime).

    Data made by a function is only made when the button is pressed (e.g. a .keras file)."""
    for column, (label, data, file_name, mime) in zip(st.columns(len(items)), items, strict=True):
        column.download_button(
            label,
            data=data,
            file_name=file_name,
            mime=mime,
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )


def config_downloads(config: Config, result: TrainResult) -> None:
    """Download buttons for the trained model and the configuration."""
    name = f"rnnviz-{config.training_id()}"
    downloads(
        (
            "Model (.keras)",
            functools.partial(cache.model_bytes, result),
            f"{name}.keras",
            "application/octet-stream",
        ),
        ("Configuration (JSON)", config.to_json(), f"{name}-config.json", "application/json"),
    )


def score_downloads(config: Config, result: TrainResult, scores: PerturbationResult) -> None:
    """Download buttons for the scores (CSV, JSON), the model and the configuration."""
    name = f"rnnviz-{config.training_id()}-sigma{config.sigma:g}"
    downloads(
        ("Scores (CSV)", tables.scores_csv(scores), f"{name}-scores.csv", "text/csv"),
        (
            "Scores + configuration (JSON)",
            tables.scores_json(scores, config),
            f"{name}-scores.json",
            "application/json",
        ),
    )
    config_downloads(config, result)


# --------------------------------------------------------------------------- subjects

NO_TRUTH_CAPTION = (
    "No ground truth for uploaded models: nobody told rnnviz which inputs your target depends "
    "on, so nothing marks the inputs that should matter. The plots show what this model relies "
    "on, right or wrong."
)


@dataclass(frozen=True, eq=False)
class Subject:
    """What the results pages explain: the trained experiment or the session's uploaded model."""

    name: str  # for headings: "the trained experiment" / "your uploaded model"
    feature_names: tuple[str, ...]
    key: str  # cache key: the training id, or the sha256 of the uploaded bytes
    truth: Rule | None  # the rule (ground truth); None for an upload
    result: TrainResult | None = None  # the trained experiment
    upload: Upload | None = None  # the uploaded model and data

    @property
    def is_upload(self) -> bool:
        return self.upload is not None

    @property
    def truth_features(self) -> frozenset[int] | None:
        """0-based features the rule reads; None when there is no ground truth."""
        return None if self.truth is None else self.truth.features

    @property
    def ground_truth(self) -> frozenset[tuple[int, int]] | None:
        """(feature, lag) pairs the rule reads; None when there is no ground truth."""
        return None if self.truth is None else self.truth.ground_truth

    @property
    def learned(self) -> bool | None:
        """Did the model learn (its validation verdict, or accuracy on uploaded labels)?"""
        if self.result is not None:
            return self.result.learned
        return None if self.upload is None else self.upload.learned


def current_subject(config: Config) -> Subject | None:
    """The subject of the results pages: the session's upload when shown, else the trained
    experiment of ``config`` (trained now if needed). None after an error message."""
    upload = state.shown_upload()
    if upload is not None:
        return Subject(
            name="your uploaded model",
            feature_names=upload.feature_names,
            key=upload.key,
            truth=None,
            upload=upload,
        )
    result = trained_model(config)
    if result is None:
        return None
    return Subject(
        name="the trained experiment",
        feature_names=feature_names(config),
        key=config.training_id(),
        truth=ground_truth(config),  # None for a real series: nobody knows its truth
        result=result,
    )


def skill_notice(subject: Subject) -> None:
    """How good the model is: the experiment's verdict (a warning when it did not learn), the
    accuracy against uploaded labels, or a plain note that an upload's skill is unknown."""
    if subject.result is not None:
        learned_notice(subject.result)
        return
    upload = subject.upload
    assert upload is not None
    st.caption(NO_TRUTH_CAPTION)
    if upload.task == "regression":
        _regression_notice(upload)
        return
    if upload.accuracy is None or upload.baseline_accuracy is None:
        st.info(
            "The model's skill is unknown: no labels y came with the data, so its accuracy "
            "cannot be checked. Add labels (an .npz with `y`, or a CSV `y` column) to see it.",
            icon=":material/help:",
        )
        return
    acc, base = upload.accuracy, upload.baseline_accuracy
    if upload.grade == "learned":
        st.success(
            f"Against your labels: accuracy {acc:.1%}, clearly above the {base:.1%} of always "
            "guessing the majority class.",
            icon=":material/check_circle:",
        )
    elif upload.grade == "partly learned":
        st.warning(
            f"Against your labels: accuracy {acc:.1%} against {base:.1%} for always guessing "
            "the majority class: the model has only partly learned your target, so the effects "
            "describe a model that is only partly right.",
            icon=":material/error:",
        )
    else:
        st.warning(
            f"Against your labels: accuracy {acc:.1%} is not clearly above the {base:.1%} of "
            "always guessing the majority class. The effects describe a model that has not "
            "learned your target.",
            icon=":material/warning:",
        )


def _regression_notice(upload: Upload) -> None:
    """An uploaded regression model's skill against its targets, and its effects' units."""
    units = (
        "Effects are in your targets' units: the RMS change of the predicted number when an "
        "input is nudged."
    )
    if upload.regression is None:
        st.info(
            "The model's skill is unknown: no targets y came with the data. " + units,
            icon=":material/help:",
        )
        return
    verdict = f"{upload_regression_verdict(upload.regression)} {units}"
    if upload.grade == "learned":
        st.success(verdict, icon=":material/check_circle:")
    else:
        st.warning(verdict, icon=":material/error:")


def upload_sample_size(upload: Upload, config: Config) -> int:
    """Sequences of the upload to score: the page's sample size, capped by the data and by
    the bound on the numbers one scoring pushes through the model."""
    n, steps, feats = upload.data.shape
    copies = 1 + feats * (1 + steps)
    per_sequence = config.n_repeats * copies * steps * feats
    fits = max(1, cache.bounds().max_score_values // per_sequence)
    return int(min(config.n_score, n, fits))


def subject_scores(subject: Subject, config: Config) -> PerturbationResult | None:
    """Cached perturbation scores of the subject with the scoring knobs of ``config``, or None
    after an error message."""
    if subject.result is not None:
        return scores_or_error(subject.result, config)
    upload = subject.upload
    assert upload is not None
    try:
        return cache.upload_scores(
            upload,
            upload_sample_size(upload, config),
            config.sigma,
            config.n_repeats,
            config.seed,
        )
    except ValueError as exc:
        error_box("These scoring settings cannot be used", exc)
    except Exception as exc:  # never show a traceback
        log.exception("scoring an uploaded model failed")
        error_box("Scoring failed", f"{type(exc).__name__}: {exc}")
    return None


def scoring_caption(subject: Subject, config: Config, scores: PerturbationResult) -> str:
    """One line saying what was scored: sigma, repeats and which sequences."""
    head = f"Scored with σ = {scores.sigma:g}, {scores.n_repeats} repeats, "
    source = source_of(config)
    if subject.upload is None and source.fixed_counts:
        counts = scores.output_counts
        windows = f"{int(counts.max()):,} " if counts is not None and len(counts) else ""
        return head + (
            f"all {windows}windows of {config.seq_len} days in the scored year "
            f"{source.score_period}; every output counts (every day's tomorrow is known)."
        )
    if subject.upload is None:
        text = head + f"{config.n_score} fresh sequences of the experiment's score split"
        mask = scores.output_mask
        if mask is not None and not mask.all():
            text += f"; {counted_outputs(scores)}"
        return text + "."
    n_total = subject.upload.data.shape[0]
    used = upload_sample_size(subject.upload, config)
    text = head + f"the first {used:,} of your {n_total:,} sequences"
    if used < min(config.n_score, n_total):
        text += " (as many as one scoring may push through the model here)"
    return text + "; every output counts (without a rule, no target is known to be undefined)."


def series_notes(config: Config, scores: PerturbationResult) -> None:
    """What a real series' effects mean: no ground truth, σ as a share of a feature's spread,
    the effects' units, and the reading of what the model relies on with its caveats."""
    st.caption(texts.SERIES_NO_TRUTH)
    source = source_of(config)
    meaning = " ".join(m for m in (source.sigma_meaning, source.effect_meaning) if m)
    st.info(meaning, icon=":material/straighten:")
    try:
        reading = series_reading(config, scores)
    except ValueError as exc:
        error_box("The reading could not be made", exc)
        return
    lead, _, caveats = reading.partition("\n\n")
    st.markdown(f"**What it relies on:** {lead}")
    st.warning(caveats, icon=":material/report:")


def upload_spread_caption(upload: Upload, sigma: float) -> str:
    """σ is in the data's units: show it beside each feature's spread."""
    std = upload.x.reshape(-1, upload.x.shape[2]).std(axis=0)
    spread = ", ".join(f"{n} {s:.3g}" for n, s in zip(upload.feature_names, std, strict=True))
    return (
        f"σ = {sigma:g} is in your data's units; the standard deviations of your features are: "
        f"{spread}. Put features on a common scale before comparing their effects."
    )


def _download_name(config: Config, subject: Subject, scores: PerturbationResult) -> str:
    if subject.upload is not None:
        return f"rnnviz-upload-{subject.upload.key[:12]}-sigma{scores.sigma:g}"
    return f"rnnviz-{config.training_id()}-sigma{config.sigma:g}"


def timestep_downloads(config: Config, subject: Subject, scores: PerturbationResult) -> None:
    """The per-timestep page's numbers: its heatmap and lag profile as CSV and JSON (with the
    configuration, or the description of the uploaded model)."""
    name = _download_name(config, subject, scores)
    if subject.upload is not None:
        about = {"upload": _upload_about(subject.upload)}
        json_label = "Heatmap + lag profile + upload description (JSON)"
    else:
        about = {"config": config.to_dict()}
        json_label = "Heatmap + lag profile (JSON)"
    downloads(
        (
            "Heatmap + lag profile (CSV)",
            tables.timestep_csv(scores),
            f"{name}-timesteps.csv",
            "text/csv",
        ),
        (
            json_label,
            tables.timestep_json(scores, about),
            f"{name}-timesteps.json",
            "application/json",
        ),
    )


def _upload_about(upload: Upload) -> dict:
    return {
        "data": upload.data_name,
        "data_shape": list(upload.data.shape),
        "model": upload.model_name,
        "architecture": upload.architecture.to_dict() if upload.architecture else None,
        "sha256": upload.key,
        "accuracy_on_labels": upload.accuracy,
        "majority_baseline": upload.baseline_accuracy,
        "task": upload.task,
        "regression_on_targets": upload.regression,
    }


def subject_downloads(config: Config, subject: Subject, scores: PerturbationResult) -> None:
    """Score downloads for either subject (plus model and configuration for the experiment)."""
    if subject.result is not None:
        score_downloads(config, subject.result, scores)
        return
    upload = subject.upload
    assert upload is not None
    name = _download_name(config, subject, scores)
    about = _upload_about(upload)
    downloads(
        ("Scores (CSV)", tables.scores_csv(scores), f"{name}-scores.csv", "text/csv"),
        (
            "Scores + upload description (JSON)",
            json.dumps({"upload": about, "scores": scores.to_dict()}, indent=2),
            f"{name}-scores.json",
            "application/json",
        ),
    )
