"""Sweeps: many experiments (presets, rules, real series × cells × seeds) and the methods run on
each model, as one tidy table (``rnnviz sweep``).

- :mod:`rnnviz.sweep.grid`: the grid (a TOML file or lists on the command line) and its tasks,
  one per experiment, checked before anything runs.
- :mod:`rnnviz.sweep.work`: what one task does where it runs (a worker process, a Dask worker):
  the model through the model store, then the methods, as rows.
- :mod:`rnnviz.sweep.table`: the results file (appended as experiments finish, so a killed sweep
  loses nothing finished), the Parquet copy and the summary over seeds.
- :mod:`rnnviz.sweep.run`: where the tasks run (this process, a process pool, a Dask cluster).
- :mod:`rnnviz.sweep.command`: the ``rnnviz sweep`` command (progress, printed summary, figure).

This room sits above ``serve`` (it uses the model store) and below the command line.
"""
