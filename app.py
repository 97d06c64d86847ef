"""``streamlit run app.py`` from a checkout; installed: ``rnnviz app`` (:mod:`rnnviz.ui.app`)."""

from rnnviz.ui.app import main

main()
