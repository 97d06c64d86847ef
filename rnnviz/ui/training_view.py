"""Reliance while training: the live snapshot and the replay.

``live`` redraws, in a placeholder of the training box, the newest snapshot a running training
reported; ``replay_section`` shows the Plotly replay of a trained model's snapshots with a
reading built from their numbers (the Learn page).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from rnnviz.attr.reliance import noise_of
from rnnviz.attr.scoring import PerturbationResult
from rnnviz.config import Config
from rnnviz.experiment import feature_names, ground_truth
from rnnviz.report import readings
from rnnviz.report.plots_training import snapshot_now, snapshot_replay
from rnnviz.training.result import TrainResult
from rnnviz.ui import text


def live(placeholder, config: Config, key: str = "live_snapshot") -> Callable:
    """A ``report(job)`` for ``rnnviz.serve.jobs.wait_for`` that draws the newest snapshot of the
    training of ``config`` in ``placeholder`` (once per snapshot), with its features' names and
    its rule's marks (none for a real series). ``key`` tells apart trainings on one page."""
    shown: list[int] = []
    names, truth = feature_names(config), ground_truth(config)

    def report(job) -> None:
        snap = getattr(job.progress, "snapshot", None)
        if snap is None or (shown and shown[-1] == snap.step):
            return
        shown.append(snap.step)
        ground = None if truth is None else truth.ground_truth
        fig = snapshot_now(snap, names, ground, reads_ahead=reads_ahead(config))
        placeholder.plotly_chart(fig, theme="streamlit", key=f"{key}_{snap.step}")

    return report


def reads_ahead(config: Config) -> bool:
    """Does the model of ``config`` read later inputs (negative lags drawn)? A bidirectional
    cell does; every other cell is causal, as on the Per-timestep page."""
    return config.cell == "bilstm"


def replay_section(
    result: TrainResult, key: str = "replay", final: PerturbationResult | None = None
) -> None:
    """The replay of ``result``'s snapshots and its reading (its features' names, its rule's
    marks: none for a real series); a note when it has none. ``final``, the full scoring of
    the model (the Per-timestep page's), is drawn beside the snapshots for comparison."""
    st.markdown(f"#### {text.REPLAY_HEADING}")
    if not result.snapshots:
        st.caption(text.NO_SNAPSHOTS)
        return
    names, truth = feature_names(result.config), ground_truth(result.config)
    ground = None if truth is None else truth.ground_truth
    left, right = st.columns([1.6, 1], gap="large")
    with left:
        replay = snapshot_replay(
            result.snapshots, names, ground, reads_ahead=reads_ahead(result.config), final=final
        )
        st.plotly_chart(replay, theme="streamlit", key=key)
    with right:
        features = None if truth is None else truth.features
        noise = noise_of(result.config)
        st.markdown(readings.replay_reading(result.snapshots, features, names, noise))
        st.markdown(text.READ_REPLAY)
        st.markdown(text.REPLAY_VS_FULL)
