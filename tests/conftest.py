"""Fixtures shared by several test modules (the helpers themselves are in ``apptools``)."""

from __future__ import annotations

import functools

import pytest

from apptools import private_cache


@pytest.fixture(scope="module")
def app_cache(tmp_path_factory):
    """The app's caches in a fresh folder for the module, for the tests that ask for it (a
    module whose every test uses the app makes ``private_cache`` autouse instead)."""
    yield from private_cache(tmp_path_factory)


@pytest.fixture(scope="session", autouse=True)
def one_component_scan():
    """Each new AppTest's first run scans every installed distribution's metadata for Streamlit
    components (~0.15 s of CPU here, and the suite makes a few hundred AppTests); the installed
    packages do not change during a run, so the scan is made once and its answer shared."""
    import streamlit

    # A private module of Streamlit's: patched only on the version this was written against
    # (requirements.txt pins it); another version runs the scan as it is.
    if not streamlit.__version__.startswith("1.67."):
        yield
        return
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:  # a Streamlit without the scan: nothing to share
        yield
        return
    mp = pytest.MonkeyPatch()
    scan = functools.cache(manifest_scanner.scan_component_manifests)
    mp.setattr(manifest_scanner, "scan_component_manifests", scan)
    yield
    mp.undo()
