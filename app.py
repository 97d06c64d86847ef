"""rnnviz dashboard entry point: ``streamlit run app.py``. Pages live in rnnviz/ui/pages/."""

import streamlit as st

st.set_page_config(page_title="rnnviz: what does an LSTM rely on?", page_icon="🔎", layout="wide")
st.navigation(
    [
        st.Page(
            "rnnviz/ui/pages/setup.py",
            title="Setup & train",
            icon=":material/tune:",
            url_path="setup",
            default=True,
        ),
        st.Page(
            "rnnviz/ui/pages/features.py",
            title="Per-feature effects",
            icon=":material/bar_chart:",
            url_path="features",
        ),
        st.Page(
            "rnnviz/ui/pages/timesteps.py",
            title="Per-timestep effects",
            icon=":material/grid_on:",
            url_path="timesteps",
        ),
        st.Page(
            "rnnviz/ui/pages/compare.py",
            title="Compare methods",
            icon=":material/compare_arrows:",
            url_path="compare",
        ),
        st.Page(
            "rnnviz/ui/pages/upload.py",
            title="Your model & data",
            icon=":material/upload_file:",
            url_path="upload",
        ),
        st.Page(
            "rnnviz/ui/pages/learn.py", title="Learn", icon=":material/school:", url_path="learn"
        ),
    ],
    position="top",
).run()
