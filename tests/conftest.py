"""Fixtures shared by several test modules (the helpers themselves are in ``apptools``)."""

from __future__ import annotations

import pytest

from apptools import private_cache


@pytest.fixture(scope="module")
def app_cache(tmp_path_factory):
    """The app's caches in a fresh folder for the module, for the tests that ask for it (a
    module whose every test uses the app makes ``private_cache`` autouse instead)."""
    yield from private_cache(tmp_path_factory)
