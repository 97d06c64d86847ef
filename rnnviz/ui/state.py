"""The session's current configuration, mirrored into the URL so that a link reopens it.

The URL is untrusted input: it goes through ``Config.from_dict`` (the same validation as the
setup form), and a bad value becomes an error message while the default configuration is used.
Only values that differ from the defaults are written to the URL, to keep links short.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from rnnviz.config import DEFAULT_BOUNDS, Bounds, Config
from rnnviz.ui.cache import bounds

CONFIG_KEY = "rnnviz_config"
URL_ERROR_KEY = "rnnviz_url_error"


def config_to_params(config: Config) -> dict[str, str]:
    """URL query parameters for ``config``: the knobs that differ from ``Config()``, as text."""
    default = Config().to_dict()
    params: dict[str, str] = {}
    for key, value in config.to_dict().items():
        if value == default[key]:
            continue
        params[key] = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return params


def config_from_params(
    params: Mapping[str, Any], bounds: Bounds = DEFAULT_BOUNDS
) -> tuple[Config, str | None]:
    """(config, None) for valid parameters, else (the default config, what to change)."""
    if not params:
        return Config(), None
    try:
        return Config.from_dict(dict(params)).validate(bounds), None
    except ValueError as exc:  # ConfigError and RuleError
        return Config(), str(exc)


def current_config() -> Config:
    """The session's configuration: read from the URL on the first run, then from the session."""
    ss = st.session_state
    if CONFIG_KEY not in ss:
        config, error = config_from_params(st.query_params.to_dict(), bounds())
        ss[CONFIG_KEY] = config
        ss[URL_ERROR_KEY] = error
    config = ss[CONFIG_KEY]
    sync_url(config)
    return config


def set_config(config: Config) -> None:
    """Make ``config`` the session's configuration and put it in the URL."""
    st.session_state[CONFIG_KEY] = config
    st.session_state[URL_ERROR_KEY] = None
    sync_url(config)


def url_error() -> str | None:
    """The message for a shared link whose settings could not be used, if any."""
    return st.session_state.get(URL_ERROR_KEY)


def sync_url(config: Config) -> None:
    params = config_to_params(config)
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
