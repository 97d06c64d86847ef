"""The dashboard's navigation: every page of :data:`rnnviz.ui.components.PAGES` under one top bar.

Streamlit runs a script, not a module: ``rnnviz app`` runs ``rnnviz/ui/script/app.py``, shipped
in the package beside the Streamlit settings it reads, and a checkout's ``app.py`` does the same
two lines, so ``streamlit run app.py`` still works. The script has a folder of its own: Streamlit
runs a main script with a pages/ folder beside it as an old-style multipage app on its first
run, and puts the script's folder on sys.path. Page paths come from the installed files
(``__file__``), never from the working directory.
"""

from __future__ import annotations

import streamlit as st

from rnnviz.ui.components import PAGES


def main() -> None:
    """Configure the page and run the page the URL asks for (called once per script run)."""
    st.set_page_config(
        page_title="rnnviz: what does an LSTM rely on?", page_icon="🔎", layout="wide"
    )
    (setup, title, icon, path), *others = PAGES
    # The default page is served at the root and answers to no path of its own, so /setup?...
    # would be "Page not found" (unlike /features?...): a hidden twin of the setup page answers
    # /setup. Links to the setup page go to the root (Streamlit links a script to its first page).
    st.navigation(
        [
            st.Page(setup, title=title, icon=icon, url_path="home", default=True),
            *(st.Page(p, title=t, icon=i, url_path=u) for p, t, i, u in others),
            st.Page(setup, title=title, icon=icon, url_path=path, visibility="hidden"),
        ],
        position="top",
    ).run()
