"""The script ``rnnviz app`` hands to ``streamlit run``; the dashboard is :mod:`rnnviz.ui.app`."""

from rnnviz.ui.app import main

main()
