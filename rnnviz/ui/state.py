"""The session's current configuration, mirrored into the URL so that a link reopens it.

The URL is untrusted input: it goes through ``Config.from_dict`` (the same validation as the
setup form), and a bad value becomes an error message while the default configuration is used.
Only values that differ from the defaults are written to the URL, to keep links short.

An uploaded model and its data (the upload page) live in this session's ``st.session_state``
only, never in a process-wide cache, so no other session can see them; they are not in the
URL either. Which one the results pages explain, the trained experiment or the upload, is the
session's *subject*.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from rnnviz.config import DEFAULT_BOUNDS, Bounds, Config, ConfigError, not_applied
from rnnviz.serve.uploads import Upload
from rnnviz.ui.cache import bounds

CONFIG_KEY = "rnnviz_config"
URL_ERROR_KEY = "rnnviz_url_error"
URL_NOTICE_KEY = "rnnviz_url_notice"  # what a usable link set that was ignored
UPLOAD_KEY = "rnnviz_upload"  # the session's uploaded model + data (an uploads.Upload)
SUBJECT_KEY = "rnnviz_subject"  # "upload" when the results pages explain the upload
# A page's own place in the URL, kept beside the config's knobs (not knobs themselves): the One
# sequence page's sequence and output step.
VIEW_PARAMS = ("seq", "step")


def config_to_params(config: Config) -> dict[str, str]:
    """URL query parameters for ``config``: the knobs that differ from ``Config()``, as text
    (a real series' window counts are not knobs: they stay out of its links)."""
    default = Config().to_dict()
    params: dict[str, str] = {}
    for key, value in config.to_dict().items():
        if value == default[key]:
            continue
        if key in config.data_kind.counted:
            continue
        params[key] = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return params


def config_from_params(
    params: Mapping[str, Any], bounds: Bounds = DEFAULT_BOUNDS
) -> tuple[Config, str | None]:
    """(config, None) for valid parameters, else (the default config, what to change)."""
    params = {k: v for k, v in params.items() if k not in VIEW_PARAMS}
    if not params:
        return Config(), None
    config = None
    try:
        config = Config.from_dict(dict(params))
        return config.validate(bounds), None
    except ConfigError as exc:
        message = str(in_bounds(exc, bounds))
    except ValueError as exc:  # RuleError
        message = str(exc)
    ignored = None if config is None else link_notice(params, config)
    return Config(), message if ignored is None else f"{message}. {ignored}"


def link_notice(params: Mapping[str, Any], config: Config) -> str | None:
    """What a link set that ``config`` does not use (a real series' window counts), or None."""
    return not_applied({k: v for k, v in params.items() if k not in VIEW_PARAMS}, config)


_INT_KNOBS = frozenset(
    {"seq_len", "n_features", "n_train", "n_val", "n_score", "n_repeats", "units", "epochs"}
    | {"batch_size", "patience", "seed"}
)


def in_bounds(exc: ConfigError, bounds: Bounds) -> ConfigError:
    """``exc`` restated with the range of ``bounds`` (the bounds in force).

    A Config checks the wide default bounds when it is made, so a value outside those too is
    rejected with the default range; under tighter (hosted) bounds that range would mislead.
    """
    if bounds == DEFAULT_BOUNDS:
        return exc
    knob, value = exc.knob, exc.value
    if knob == "sigma":
        lo, hi = bounds.sigma
        allowed = f"a number > {lo:g} and <= {hi:g}"
    elif knob == "learning_rate":
        lo, hi = bounds.learning_rate
        allowed = f"a number in [{lo:g}, {hi:g}]"
    elif knob == "units" and isinstance(value, tuple):
        lo, hi = bounds.layers
        allowed = f"{lo} to {hi} LSTM layer sizes"
    elif knob in _INT_KNOBS and exc.allowed.startswith("a whole number from"):
        lo, hi = getattr(bounds, knob)
        allowed = f"a whole number from {lo} to {hi}"
    else:  # malformed values and the combined limits: the message holds as it is
        return exc
    return ConfigError(knob, value, allowed)


def current_config() -> Config:
    """The session's configuration: read from the URL on the first run, then from the session."""
    ss = st.session_state
    if CONFIG_KEY not in ss:
        params = st.query_params.to_dict()
        config, error = config_from_params(params, bounds())
        ss[CONFIG_KEY] = config
        ss[URL_ERROR_KEY] = error
        ss[URL_NOTICE_KEY] = None if error else link_notice(params, config)
    config = ss[CONFIG_KEY]
    sync_url(config)
    return config


def set_config(config: Config) -> None:
    """Make ``config`` the session's configuration and put it in the URL.

    A new training configuration (not just new scoring knobs) is a new experiment to look at,
    so the results pages switch back to it from an uploaded model.
    """
    old = st.session_state.get(CONFIG_KEY)
    if old is None or old.training_key() != config.training_key():
        show_upload(False)
    st.session_state[CONFIG_KEY] = config
    st.session_state[URL_ERROR_KEY] = None
    st.session_state[URL_NOTICE_KEY] = None
    sync_url(config)


def url_error() -> str | None:
    """The message for a shared link whose settings could not be used, if any."""
    return st.session_state.get(URL_ERROR_KEY)


def url_notice() -> str | None:
    """What a shared link set that its experiment does not use (it was ignored), if anything."""
    return st.session_state.get(URL_NOTICE_KEY)


def sync_url(config: Config) -> None:
    params = config_to_params(config)
    current = st.query_params.to_dict()
    params |= {k: v for k, v in current.items() if k in VIEW_PARAMS}
    if current != params:
        st.query_params.from_dict(params)


def uploaded() -> Upload | None:
    """The session's uploaded model and data, shown or not."""
    return st.session_state.get(UPLOAD_KEY)


def set_upload(upload: Upload) -> None:
    """Keep ``upload`` for this session only and make it the results pages' subject."""
    st.session_state[UPLOAD_KEY] = upload
    st.session_state[SUBJECT_KEY] = "upload"


def show_upload(show: bool) -> None:
    """Explain the uploaded model (True) or the trained experiment (False) on the results pages."""
    st.session_state[SUBJECT_KEY] = "upload" if show and uploaded() is not None else "experiment"


def shown_upload() -> Upload | None:
    """The uploaded model when it is the subject of the results pages, else None."""
    if st.session_state.get(SUBJECT_KEY) == "upload":
        return uploaded()
    return None


def view_param(name: str) -> int | None:
    """A whole number the URL holds for the page's place (``VIEW_PARAMS``), or None when it is
    missing or not a whole number (the page then starts from its default)."""
    value = st.query_params.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def set_view_params(**values: int) -> None:
    """Put the page's place (e.g. seq=12, step=7) in the URL, so that its link reopens it."""
    for name, value in values.items():
        if name not in VIEW_PARAMS:
            raise ValueError(f"{name} is not a view parameter ({', '.join(VIEW_PARAMS)})")
        if st.query_params.get(name) != str(value):
            st.query_params[name] = str(value)
