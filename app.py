"""rnnviz dashboard entry point: ``streamlit run app.py``. Pages live in rnnviz/ui/pages/."""

import streamlit as st

from rnnviz.ui.components import PAGES

st.set_page_config(page_title="rnnviz: what does an LSTM rely on?", page_icon="🔎", layout="wide")
(setup, title, icon, path), *others = PAGES
# The default page is served at the root and answers to no path of its own, so /setup?... would
# be "Page not found" (unlike /features?...): a hidden twin of the setup page answers /setup.
# Links to the setup page go to the root (Streamlit links a script to its first page).
st.navigation(
    [
        st.Page(setup, title=title, icon=icon, url_path="home", default=True),
        *(st.Page(p, title=t, icon=i, url_path=u) for p, t, i, u in others),
        st.Page(setup, title=title, icon=icon, url_path=path, visibility="hidden"),
    ],
    position="top",
).run()
