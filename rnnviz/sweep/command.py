"""``rnnviz sweep``: a grid of experiments and methods, run on this machine's cores or a Dask
cluster, into a tidy table, a summary over seeds and a figure.

Writes, in ``--out`` (default ``sweep/``): ``results.csv`` (appended as experiments finish: a
killed sweep loses nothing finished, a rerun does only what is missing), ``results.parquet``
(the grid's rows in grid order), ``summary.csv`` (per task, cell and method: median and
quartiles over seeds) and ``summary.html`` (the spreads drawn, plotly). Models are kept in
``--store`` (default ``<out>/models``), so a rerun or a larger grid trains only new configs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from rnnviz.sweep.grid import KEYS, GridError, grid_tasks, load_grid, parse_grid, parse_seeds
from rnnviz.sweep.run import OnDone, Outcome, run_sweep
from rnnviz.sweep.table import (
    FIGURE,
    RESULTS,
    SUMMARY_CSV,
    ResultsError,
    ResultsFile,
    grid_table,
    summarise,
    write_parquet,
)

EXAMPLE = """\
examples:
  rnnviz sweep --rule reference --rule lagged --cells lstm,gru --seeds 0-4
  rnnviz sweep grid.toml --workers 2 --out sweeps/rules
  rnnviz sweep grid.toml --scheduler tcp://10.0.0.5:8786     # an existing Dask cluster

a grid file (TOML):
  rules = ["reference", "lagged", "x1[t-2] > 0.5"]
  series = ["seattle-weather"]
  cells = ["lstm", "gru"]
  seeds = [0, 1, 2, 3, 4]
  methods = ["default"]
  [config]
  epochs = 3
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run many experiments (tasks x cells x seeds) and the methods on each "
        "model; write a tidy table, a summary over seeds and a figure. Flags override the "
        "grid file's lists.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("grid", nargs="?", help="a grid file (TOML)")
    p.add_argument("--presets", help="experiment presets, comma-separated (e.g. memory-lstm)")
    p.add_argument(
        "--rule",
        action="append",
        dest="rules",
        help="a rule (a preset name or an expression), on the default recipe; repeat the flag",
    )
    p.add_argument("--series", help="real series, comma-separated (seattle-weather[:temp_max])")
    p.add_argument("--cells", help="cells, comma-separated (default: each task's own)")
    p.add_argument("--seeds", help="seeds: 0,1,2 or 0-4 (default: 0)")
    p.add_argument("--methods", help="methods, comma-separated, or 'default' (the default)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="a knob for every experiment, e.g. --set epochs=1; repeat the flag",
    )
    p.add_argument("--out", default="sweep", help="output folder (default: sweep)")
    p.add_argument("--store", help="model store folder (default: OUT/models)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: the machine's cores; 0: in this process)",
    )
    p.add_argument("--scheduler", help="a Dask scheduler's address: run on that cluster")
    p.add_argument(
        "--retries",
        type=int,
        default=1,
        help="new pools after a worker process died (default 1)",
    )
    p.add_argument(
        "--retry-errors", action="store_true", help="run experiments that failed before again"
    )
    p.add_argument("--quiet", action="store_true", help="no progress")
    return p


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def grid_data(args: argparse.Namespace) -> dict[str, Any]:
    """The grid's plain data: the file's, then each list the flags give."""
    data: dict[str, Any] = {}
    if args.grid:
        grid = load_grid(args.grid)  # checked on its own first: errors name the file
        data = {k: getattr(grid, k) for k in KEYS}
        data = {k: list(v) if isinstance(v, tuple) else dict(v) for k, v in data.items()}
        if not data["config"]:
            del data["config"]
    for key in ("presets", "series", "cells", "methods"):
        value = _split(getattr(args, key))
        if value is not None:
            data[key] = value
    if args.rules:
        data["rules"] = args.rules
    if args.seeds is not None:
        data["seeds"] = parse_seeds(args.seeds)
    for item in args.set:
        knob, eq, value = item.partition("=")
        if not eq or not knob.strip():
            raise GridError(f"--set {item!r}: write KNOB=VALUE, e.g. --set epochs=1")
        data.setdefault("config", {})[knob.strip()] = value.strip()
    return data


@contextlib.contextmanager
def sweep_progress(
    stream: TextIO, live: bool, total: int, quiet: bool = False
) -> Iterator[OnDone | None]:
    """The sweep's progress on ``stream``: on a terminal (``live``) a rich bar with the time
    remaining; in a log, one plain line per experiment with an estimate; nothing when
    ``quiet``. ``total``: experiments to run."""
    if quiet or total == 0:
        yield None
        return
    if not live:
        start = time.monotonic()

        def plain(task, rows, done: int, todo: int) -> None:
            elapsed = time.monotonic() - start
            left = elapsed / done * (todo - done)
            status = "failed" if any(r["error"] for r in rows) else "done"
            print(
                f"  [{done}/{todo}] {task.task} {task.cell} seed {task.seed}: {status}  "
                f"({elapsed:.0f} s, about {left:.0f} s left)",
                file=stream,
                flush=True,
            )

        yield plain
        return

    from rich import progress as rich_progress
    from rich.console import Console

    columns = (
        rich_progress.TextColumn("  sweep"),
        rich_progress.BarColumn(),
        rich_progress.MofNCompleteColumn(),
        rich_progress.TimeElapsedColumn(),
        rich_progress.TimeRemainingColumn(),
        rich_progress.TextColumn("{task.fields[status]}"),
    )
    with rich_progress.Progress(*columns, console=Console(file=stream)) as bar:
        job = bar.add_task("sweep", total=total, status="")

        def rich_bar(task, rows, done: int, todo: int) -> None:
            bar.update(job, completed=done, status=f"{task.task} {task.cell} seed {task.seed}")

        yield rich_bar


def _cell(median: float, q25: float, q75: float) -> str:
    if math.isnan(median):
        return "—"
    return f"{median:.3f} [{q25:.3f}, {q75:.3f}]"


def print_summary(summary, stream: TextIO) -> None:
    """The summary as a table: per task, cell and method, the median [quartiles] over seeds."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Median [25%, 75%] over seeds", title_justify="left")
    for name in ("task", "cell", "method", "n", "lag AUC", "feature AUC", "deletion", "errors"):
        table.add_column(name, justify="left" if name in ("task", "cell", "method") else "right")
    for row in summary.itertuples(index=False):
        table.add_row(
            row.task,
            row.cell,
            row.method,
            str(row.n),
            _cell(row.lag_auc_median, row.lag_auc_q25, row.lag_auc_q75),
            _cell(row.feature_auc_median, row.feature_auc_q25, row.feature_auc_q75),
            _cell(row.deletion_median, row.deletion_q25, row.deletion_q75),
            str(row.errors),
        )
    Console(file=stream, width=160).print(table)


def write_figure(table, path: Path) -> Path | None:
    """The spreads over seeds (lag AUC where there is truth, deletion score) as one HTML page;
    None when no row has a number (every experiment failed)."""
    from rnnviz.report.plots import sweep_boxes

    figures = []
    for metric in ("lag_auc", "deletion"):
        try:
            figures.append(sweep_boxes(table, metric))
        except ValueError:  # no row has it (e.g. real series only: no truth)
            continue
    if not figures:
        return None
    parts = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)
    ]
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>rnnviz sweep</title></head>"
        f"<body>{''.join(parts)}</body></html>",
        encoding="utf-8",
    )
    return path


def sweep_main(argv: Sequence[str], prog: str = "rnnviz sweep") -> int:
    """``rnnviz sweep``: exit 0 when every experiment has its rows (some may carry an error),
    1 when some did not finish (a worker died: run again), 2 on a bad grid, 130 on Ctrl-C."""
    args = build_parser(prog).parse_args(list(argv))
    out = Path(args.out)
    store = Path(args.store) if args.store else out / "models"
    try:
        if args.workers is not None and args.workers < 0:
            raise GridError(f"--workers {args.workers}: 0 (this process) or more")
        grid = parse_grid(grid_data(args))
        tasks = grid_tasks(grid, store=store.resolve())
        results = ResultsFile(out)
        finished = results.finished(args.retry_errors)
    except (GridError, ResultsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: --out {out}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.scheduler is not None and importlib.util.find_spec("distributed") is None:
        print(
            "error: --scheduler runs on a Dask cluster: pip install 'rnnviz[sweep]'",
            file=sys.stderr,
        )
        return 2
    todo = sum(any((t.experiment, m) not in finished for m in t.methods) for t in tasks)
    methods = len(tasks[0].methods)
    print(
        f"{len(tasks)} experiments x {methods} methods; {len(tasks) - todo} complete, "
        f"{todo} with rows to run",
        file=sys.stderr,
    )
    live = sys.stderr.isatty()
    start = time.monotonic()
    try:
        with sweep_progress(sys.stderr, live, todo, args.quiet) as on_done:
            outcome = run_sweep(
                tasks,
                out,
                workers=args.workers,
                scheduler=args.scheduler,
                retries=max(0, args.retries),
                retry_errors=args.retry_errors,
                on_done=on_done,
            )
    except KeyboardInterrupt:
        print(
            f"interrupted: finished experiments are in {out / RESULTS}; run the same command "
            "again to finish the rest",
            file=sys.stderr,
        )
        return 130
    return report(tasks, out, outcome, time.monotonic() - start)


def report(tasks, out: Path, outcome: Outcome, seconds: float) -> int:
    """Write the grid's table, summary and figure; print the summary and what happened."""
    table = grid_table(ResultsFile(out).read(), tasks)
    summary = summarise(table)
    summary.to_csv(out / SUMMARY_CSV, index=False)
    written = [out / RESULTS]
    missing = []
    if importlib.util.find_spec("pyarrow") is None:
        missing.append("the Parquet copy needs pyarrow")
    else:
        written.append(write_parquet(table, out))
    figure = None
    if importlib.util.find_spec("plotly") is None:
        missing.append("the figure needs plotly")
    else:
        figure = write_figure(table, out / FIGURE)
    print_summary(summary, sys.stdout)
    print(
        f"ran {outcome.ran} experiments in {seconds:.1f} s ({outcome.skipped} complete before); "
        f"table: {', '.join(map(str, written))}; summary: {out / SUMMARY_CSV}"
        + (f"; figure: {figure}" if figure else ""),
        file=sys.stderr,
    )
    if missing:
        print(f"note: {'; '.join(missing)}: pip install 'rnnviz[sweep]'", file=sys.stderr)
    failed = table.loc[table["error"] != "", "experiment"].nunique()
    if failed:
        print(
            f"note: {failed} experiment(s) failed: their rows carry the error "
            "(--retry-errors runs them again)",
            file=sys.stderr,
        )
    if outcome.lost:
        print(
            f"error: {len(outcome.lost)} experiment(s) did not finish (a worker process died); "
            "run the same command again to finish them",
            file=sys.stderr,
        )
        return 1
    return 0
