"""The light websocket client of the class benchmark (``benchmarks/st_client.py``) against the
real app: ``streamlit run app.py`` in hosted mode on a loopback port, with a private cache folder.

One tiny experiment: the client opens its per-feature page without a browser and must see the
thread's table (the numbers of every feature), no error box, and the run finish.
"""

from __future__ import annotations

import asyncio
import re
import sys
from urllib.parse import urlencode

import pytest

from apptools import ROOT, TINY, running_app

sys.path.insert(0, str(ROOT / "benchmarks"))
import st_client  # noqa: E402

pytestmark = pytest.mark.server

TABLE = "Variable 1, perturbation effect:"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {
        "RNNVIZ_HOSTED": "1",
        "RNNVIZ_WARM_PRESETS": "0",  # train only the experiment under test
        "RNNVIZ_CACHE_DIR": str(tmp_path_factory.mktemp("rnnviz_cache")),
    }
    with running_app(log, env) as (url, _proc):
        yield url, log


def test_light_client_sees_per_feature_results(server):
    url, log = server
    params = {**TINY, "rule": "x1 > 0.5 and x2 < 0.6", "seed": "7"}
    seen = asyncio.run(st_client.visit(url, "features", urlencode(params), TABLE, timeout=90))
    assert seen.ended is None, seen.ended
    assert seen.ok, (seen.errors, seen.texts[-5:])
    assert seen.finished  # the whole page was drawn
    numbers = re.findall(r"Variable (\d+), perturbation effect: (\d+\.\d{4})", seen.found)
    assert [n for n, _ in numbers] == ["1", "2", "3"]
    # the app ran the linked experiment (its rule is in the sidebar), not the default one
    assert any("x1 > 0.5 and x2 < 0.6" in text for text in seen.texts)
    assert seen.status.startswith("Training")  # the progress bar's text was seen
    assert "Traceback" not in log.read_text()


def test_stop_on_error_ends_the_visit_at_a_refused_link(server):
    url, _log = server
    query = urlencode({**TINY, "units": "40,20"})  # over the hosted bound of 32 units
    seen = asyncio.run(
        st_client.visit(url, "features", query, TABLE, timeout=90, stop_on_error=True)
    )
    assert seen.seconds is None  # it did not wait for the default experiment's results
    assert seen.ended is not None and seen.ended.startswith("an error was shown"), seen.ended
    assert "could not be used" in seen.ended and "units" in seen.ended
    assert [kind for kind, _ in seen.alerts].count("error") == 1
    assert seen.errors == [text for kind, text in seen.alerts if kind == "error"]


def test_rerun_message_is_what_the_front_end_sends_on_first_load():
    msg = st_client.rerun_message("?seed=3&rule=lagged", "features")
    assert msg.WhichOneof("type") == "rerun_script"
    state = msg.rerun_script
    assert (state.query_string, state.page_name, state.page_script_hash) == (
        "seed=3&rule=lagged",
        "features",
        "",
    )
    assert state.HasField("widget_states") and not state.widget_states.widgets
