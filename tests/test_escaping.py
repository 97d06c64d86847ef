"""User text (rules, file names, messages that quote them) is shown literally wherever it appears.

AppTest sees each element's Markdown source. Here it is rendered with markdown-it (CommonMark,
with raw HTML switched on: stricter than Streamlit, which never renders it) to check that the
user's text comes out as text and no markup is made of it, and that the source holds the escaped
form of ``text.md_escape`` / ``text.md_code`` (which is what keeps ``$`` out of math, too).
The real browser renders them in ``tests/test_browser.py``.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from markdown_it import MarkdownIt

from rnnviz.config import Config
from rnnviz.rules import RuleError, get_rule
from rnnviz.serve.uploads import Upload, UploadedData
from rnnviz.ui import state
from rnnviz.ui.text import md_code, md_escape, md_fence

from apptools import TINY, make_app, private_cache

cache_dir = pytest.fixture(scope="module", autouse=True)(private_cache)
MD = MarkdownIt("commonmark", {"html": True})
NASTY = "__import__('os') *x* <b>b</b> $x$ `x` :material/home: [a](b)"


def rendered(source: str) -> tuple[str, list[str]]:
    """(visible text, tag names in order) of Markdown ``source`` rendered as CommonMark."""
    out = MD.render(source)
    return html.unescape(re.sub(r"<[^>]+>", "", out)), re.findall(r"<([a-z][a-z0-9]*)", out)


def squash(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- the helpers


@pytest.mark.parametrize(
    "text", ["__import__('os')", "*x*", "<b>x</b>", "$x$", "`x`", "``a`b``", NASTY, "a\n# b"]
)
def test_helpers_make_any_text_literal(text):
    one_line = squash(text)
    shown, tags = rendered(f"Said: {md_escape(text)}")
    assert squash(shown) == f"Said: {one_line}" and tags == ["p"]
    assert "$" not in md_escape(text).replace("\\$", "")  # no math delimiter left
    assert ":material/" not in md_escape(text)  # Streamlit would make an icon of it
    shown, tags = rendered(f"Rule {md_code(text)}.")
    assert squash(shown) == f"Rule {one_line}.".replace(":material/", ":\u2060material/")
    assert tags == ["p", "code"]
    shown, tags = rendered(md_fence(f"{text}\n  ^"))
    assert shown.rstrip("\n") == f"{text}\n  ^".replace(":material/", ":\u2060material/")
    assert tags == ["pre", "code"]


# --------------------------------------------------------------------------- error boxes


def rule_error(text: str) -> str:
    with pytest.raises(RuleError) as caught:
        get_rule(text, n_features=3, seq_len=5)
    return str(caught.value)


def assert_literal_error(value: str, title: str, message: str) -> None:
    """The box says **title:** and then the message, every character of it literally."""
    first, _, rest = message.partition("\n")
    assert value.startswith(f"**{title}:** {md_escape(first)}")
    if rest.strip():
        assert md_fence(rest) in value
    shown, tags = rendered(value)
    assert squash(shown.replace("\u2060", "")) == squash(f"{title}: {message}")
    assert set(tags) <= {"p", "strong", "pre", "code"} and tags.count("strong") == 1
    assert re.search(r"<strong>([^<]*)</strong>", MD.render(value)).group(1) == f"{title}:"


@pytest.mark.parametrize(
    "rule", ["__import__('os')", "*x* < 1", "<b>x1</b>", "$x$ > 1", "`x1` > 0.5", NASTY]
)
def test_custom_rule_errors_show_the_rule_literally(rule):
    at = make_app(TINY).run()
    at.radio(key="setup_rule_mode").set_value("Custom expression").run()
    at.text_input(key="setup_custom").input(rule).run()
    assert not at.exception
    (error,) = at.error
    assert_literal_error(error.value, "The rule cannot be used", rule_error(rule))


def test_bad_setting_and_bad_link_errors_are_literal():
    at = make_app(TINY).run()
    at.text_input(key="setup_units").input("__init__, *x*").run()
    (error,) = at.error
    message = error.value.partition(":** ")[2]
    assert md_escape("'__init__, *x*'") in message  # the value, escaped
    shown, tags = rendered(error.value)
    assert "__init__, *x*" in shown and tags.count("strong") == 1 and "em" not in tags

    at = make_app({"rule": NASTY}, page="learn").run()
    (error,) = at.error
    assert_literal_error(
        error.value,
        "This link's settings could not be used, so the default experiment is shown",
        rule_error(NASTY),
    )


# --------------------------------------------------------------------------- the sidebar


def test_sidebar_shows_a_rule_literally():
    rule = "x1 * x2 < 0.25 and not x3 > 0.5"  # * and < are Markdown outside a code span
    at = make_app({**TINY, "rule": rule}, page="learn").run()
    assert not at.exception and not at.error
    expression = get_rule(rule, n_features=3, seq_len=5).expression
    (line,) = [m.value for m in at.sidebar.markdown if m.value.startswith("**Rule:**")]
    assert md_code(expression) in line
    shown, tags = rendered(line)
    assert expression in shown and "em" not in tags and tags.count("code") == 1


def test_sidebar_shows_uploaded_file_names_literally():
    data_name = f"{NASTY}.npz"
    model_name = f"{NASTY}.weights.h5"
    upload = Upload(
        data_name=data_name,
        model_name=model_name,
        kind="weights",
        data=UploadedData(np.zeros((4, 5, 3), dtype=np.float32)),
        model_bytes=b"",
        key="0" * 64,
        architecture=Config(seq_len=5),
    )
    at = make_app(TINY, page="learn")
    at.session_state[state.UPLOAD_KEY] = upload
    at.session_state[state.SUBJECT_KEY] = "upload"
    at.run()
    assert not at.exception
    (line,) = [m.value for m in at.sidebar.markdown if m.value.startswith("**Model:**")]
    assert md_code(model_name) in line and md_code(data_name) in line
    shown, tags = rendered(line)
    shown = shown.replace("\u2060", "")
    assert model_name in shown and data_name in shown
    assert set(tags) <= {"p", "strong", "code", "br"} and tags.count("code") == 2
