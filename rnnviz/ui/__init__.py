"""The Streamlit dashboard: the only part of rnnviz that imports streamlit.

``cache`` is the caching seam (one ModelStore per process, scores per model and scoring knobs),
``state`` keeps the current configuration in the session and the URL, ``components`` holds the
pieces every page shares, ``tables`` turns scores into downloadable text (no streamlit) and
``pages/`` holds one script per page, run by ``st.navigation`` in ``app.py``.
"""
