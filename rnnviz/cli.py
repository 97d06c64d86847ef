"""Command line: train on a config and print the thread's per-feature table and per-step tables.

``python -m rnnviz --preset reference`` reproduces the Cross Validated experiment;
``--methods saliency,garson`` runs registered methods side by side (:mod:`rnnviz.attr.registry`)
and scores them against the rule; ``python -m rnnviz --dataset seattle-weather`` (``--outcome
temp_max``) runs the real series: its verdict against the baselines, the tables with the
measurements' names and a reading; ``--json`` prints machine-readable results; bad input exits
with status 2 and a message.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from rnnviz import __version__
from rnnviz.attr.attribution import Attribution, drawn_lags
from rnnviz.attr.comparison import METRICS
from rnnviz.attr.registry import METHODS, check_name, default_methods, method_label
from rnnviz.config import (
    CELLS,
    DATASETS,
    EFFECTS_ON,
    HEADS,
    OUTCOMES,
    PRESET_DATASETS,
    PRESETS,
    Config,
    describe_budget,
    describe_model,
    not_applied,
    parse_settings,
    series_preset,
)
from rnnviz.metrics import json_list
from rnnviz.report.readings import (
    REMEDY_CLI,
    counted_outputs,
    effect_scale_note,
    saturation_warning,
    thread_lines,
    training_verdict,
    verdict,
)
from rnnviz.report.readings import improving_note as result_improving_note
from rnnviz.rules import RULE_PRESETS
from rnnviz.training.result import Progress, ProgressFn, TrainResult, longer

if TYPE_CHECKING:
    from rnnviz.attr.comparison import Comparison
    from rnnviz.rules import Rule

# flag -> Config field, for the knobs exposed on the command line
_FLAGS = {
    "seq_len": "steps per sequence",
    "n_features": "number of input features",
    "dataset": "where the sequences come from (a real series starts from its preset: "
    "seattle-weather, or seattle-temp with --outcome temp_max)",
    "outcome": "what a real series predicts (tomorrow's rain or max temperature)",
    "correlated": "correlated feature pairs with Spearman rho, e.g. x1~x4:0.95,x2~x3:-0.5",
    "rule": f"target rule: a preset ({', '.join(RULE_PRESETS)}) or an expression like "
    "'x1[t-2] > 0.5'",
    "sigma": "noise scale of the perturbation",
    "n_repeats": "independent noise draws",
    "n_train": "training sequences",
    "n_val": "validation sequences",
    "n_score": "sequences used for scoring",
    "effect_on": "what the output-based methods measure the change of: probability or log-odds"
    " (for a sure classifier, whose probabilities sit next to 0 or 1); a regression's "
    "outputs are numbers: not applied there",
    "cell": "recurrent cell (bilstm: a bidirectional LSTM)",
    "units": "LSTM layer sizes, e.g. 10,5",
    "activations": "LSTM activations, e.g. tanh,tanh",
    "head": "per-step output layer",
    "input_scaling": "map [0, 1) to [-1, 1) inside the model: true or false",
    "epochs": "training epochs",
    "batch_size": "training batch size",
    "learning_rate": "Adam learning rate",
    "patience": "early-stopping patience in epochs (0 = off)",
    "seed": "seed for data, initialisation and noise",
}


# knobs with a fixed list of values: argparse offers and checks them (Config checks the rest)
_CHOICES: dict[str, Sequence[str]] = {
    "cell": CELLS,
    "head": HEADS,
    "dataset": DATASETS,
    "outcome": tuple(OUTCOMES),
    "effect_on": EFFECTS_ON,
}
PROG = "rnnviz"  # the installed script; ``python -m rnnviz`` passes its own


def _default_text(name: str) -> str:
    """The default preset's value of a knob as typed on the command line (10,5; true; none)."""
    value = PRESETS["default"].to_dict()[name]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "none"
    return str(value) if value != "" else "none"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Which inputs does an LSTM rely on? Train on a synthetic rule and measure "
        "the RMS change of its predictions when N(0, sigma) noise is added to one feature.",
        epilog=f"The dashboard: {prog} app [streamlit options], e.g. {prog} app --server.port "
        "8502 (see: {prog} app --help). Many experiments and methods at once: {prog} sweep "
        "(see: {prog} sweep --help). Defaults are the default preset's.".replace("{prog}", prog),
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="starting config (default: default, or the real series' preset with --dataset)",
    )
    p.add_argument("--config", metavar="FILE", help="JSON file of settings (applied after preset)")
    for name, text in _FLAGS.items():
        choices = _CHOICES.get(name)
        p.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            choices=choices,
            metavar=None if choices else "V",
            help=f"{text} (default: {_default_text(name)})".replace("%", "%%"),
        )
    p.add_argument(
        "--methods",
        metavar="NAMES",
        help=f"methods to run side by side and score against the rule, comma-separated: "
        f"{', '.join(METHODS)}; <method>:<base> for a method on a base (e.g. "
        f"tsr:perturbation); 'default' for {', '.join(default_methods())}. Without it: "
        "perturbation alone, in the thread's format",
    )
    p.add_argument(
        "--explain-sequence",
        type=int,
        metavar="I",
        help="explain one scored sequence (0-based): the signed effect of each input cell on "
        "one output step, for every method with that grain",
    )
    p.add_argument(
        "--output-step",
        type=int,
        metavar="T",
        help="the output step --explain-sequence explains (default: the last)",
    )
    p.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    p.add_argument(
        "--save",
        metavar="DIR",
        help="save the trained model and its metadata in this folder (created; its parent must "
        "exist)",
    )
    p.add_argument("--quiet", action="store_true", help="no training progress on stderr")
    return p


MAX_CONFIG_CHARS = 100_000  # a --config file of settings holds a few hundred


def _settings(args: argparse.Namespace) -> tuple[dict, dict]:
    """(the --config file's settings, the single flags given)."""
    data: dict = {}
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as fh:
                text = fh.read(MAX_CONFIG_CHARS + 1)
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read config file {args.config}: {exc}") from None
        if len(text) > MAX_CONFIG_CHARS:
            raise ValueError(
                f"cannot read config file {args.config}: longer than {MAX_CONFIG_CHARS:,} "
                "characters; a file of settings needs a few hundred"
            )
        if not text.lstrip().startswith("{"):
            raise ValueError(f"config file {args.config} must hold a JSON object of settings")
        data = parse_settings(text)  # ConfigError naming the setting
    flags = {k: getattr(args, k) for k in _FLAGS if getattr(args, k) is not None}
    return data, flags


def make_config(args: argparse.Namespace) -> Config:
    """The config the flags describe: preset, then --config file, then single flags.

    A real series named by --dataset (or the file) without a preset of that series starts from
    the series' preset (its features, window and input scaling), so only what differs is given.
    """
    data, flags = _settings(args)
    config = PRESETS[args.preset or "default"]
    dataset = flags.get("dataset", data.get("dataset", config.dataset))
    if dataset in PRESET_DATASETS and dataset != config.dataset:
        outcome = flags.get("outcome", data.get("outcome", "rain"))
        known = isinstance(outcome, str) and outcome in OUTCOMES  # else from_dict names it
        config = series_preset(dataset, outcome if known else "rain")
    if data:
        config = Config.from_dict(data, base=config)
    return Config.from_dict(flags, base=config)


def ignored_note(args: argparse.Namespace, config: Config) -> str | None:
    """What the file or the flags set that ``config`` does not use (a real series' window
    counts), or None: printed on stderr, so nobody believes a count was applied."""
    data, flags = _settings(args)
    return not_applied({**data, **flags}, config)


def format_tables(scores: Attribution, names: Sequence[str] | None = None) -> str:
    """The thread's per-feature lines, then per-input-step and per-lag effect tables."""
    names = list(names or scores.feature_names)
    w = max(7, *map(len, names))  # a real series' names are longer than x1
    lines = [thread_lines(scores, with_std=True)]
    cell = scores.cell_mean
    header = f"{'feature':<{w}} " + " ".join(f"{f's={s}':>7}" for s in range(cell.shape[1]))
    lines += [
        "",
        "Effect of perturbing one input step (RMS over sequences and outputs; "
        f"{counted_outputs(scores)}):",
        header,
    ]
    lines += [
        f"{n:<{w}} " + " ".join(f"{v:7.4f}" for v in row)
        for n, row in zip(names, cell, strict=True)
    ]
    shown, lags = drawn_lags(scores)
    header = f"{'feature':<{w}} " + " ".join(f"{f'lag={k}':>7}" for k in shown)
    lines += ["", "Effect on the output `lag` steps later (mean over output steps):", header]
    lines += [
        f"{n:<{w}} " + " ".join(_number(v) for v in row) for n, row in zip(names, lags, strict=True)
    ]
    return "\n".join(lines)


def _number(v: float) -> str:
    return f"{v:7.4f}" if np.isfinite(v) else f"{'-':>7}"


def method_names(text: str) -> tuple[str, ...]:
    """The registry names ``--methods`` lists ("default": the registry's default set), checked
    before any training; ValueError naming the valid ones."""
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if name == "default":
            names += default_methods()
        elif name:
            try:
                check_name(name)
            except ValueError as exc:
                raise ValueError(f"{exc}; or 'default' for the default set") from None
            names.append(name)
    if not names:
        raise ValueError(f"no method named; one or more of {', '.join(METHODS)}, or 'default'")
    return tuple(dict.fromkeys(names))


def format_comparison(comparison: Comparison, rule: Rule | None) -> str:
    """Each method's per-feature table (from its ``to_frame()``), then the truth scores and the
    verdict where the rule has ground truth (a real series has no rule: None), then the
    deletion and insertion scores where the comparison has curves."""
    lines = []
    for name in comparison.methods:
        attr = comparison.attributions[name]
        frame = attr.to_frame()
        features = frame[frame["kind"] == "feature"][["feature", "mean", "std"]]
        lines += [
            f"{method_label(name)} ({name}, {attr.n_repeats} repeat(s)):",
            features.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        if attr.note:
            lines.append(f"  caveat: {attr.note}")
        lines.append("")
    if rule is not None and rule.ground_truth:
        truth = comparison.to_frame()[["method", *METRICS]]
        lines += [
            "Truth scores (how well each method's scores find the rule's inputs; - = no grain):",
            truth.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"),
            "",
            verdict(comparison, rule.features),
        ]
    if comparison.curves:
        from rnnviz.report.readings import faithfulness_reading, faithfulness_table

        table = faithfulness_table(comparison)
        metric = next(iter(comparison.curves.values())).metric_label
        lines += [
            "",
            f"Deletion and insertion ({metric} as each method's top cells are replaced by the "
            "feature's mean; area against random orders, higher = more faithful):",
            *(
                f"  {m}: deletion {d}, insertion {i}; {r}"
                for m, d, i, r in zip(
                    table["method"],
                    table["deletion"],
                    table["insertion"],
                    table["reading"],
                    strict=True,
                )
            ),
            faithfulness_reading(comparison).replace("**", ""),
        ]
    return "\n".join(lines).rstrip()


def comparison_json(comparison: Comparison) -> dict:
    """The comparison as plain JSON: each method's result, the truth scores and the agreement."""
    return {
        "methods": {k: a.to_dict() for k, a in comparison.attributions.items()},
        "truth_scores": comparison.rows(),
        "rank_agreement": {
            "methods": list(comparison.methods),
            "rho": json_list(comparison.rank_agreement),
        },
        "faithfulness": {m: c.to_dict() for m, c in (comparison.curves or {}).items()},
    }


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Entry point; returns the process exit status (130 after Ctrl-C, as shells do).

    ``app`` as the first argument starts the dashboard (:func:`app_main`), ``sweep`` runs a
    grid of experiments (:mod:`rnnviz.sweep.command`); any other arguments run one experiment
    in the terminal.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["app"]:
        return app_main(argv[1:], prog=f"{prog} app")
    if argv[:1] == ["sweep"]:
        from rnnviz.sweep.command import sweep_main

        try:
            return sweep_main(argv[1:], prog=f"{prog} sweep")
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    with _remembered_ctrl_c() as interrupted:
        try:
            return _run(build_parser(prog).parse_args(argv), interrupted)
        except KeyboardInterrupt:
            pass
        except Exception:
            if not interrupted.is_set():
                raise  # an interrupt TensorFlow re-wrapped ends here as another error
    print("interrupted", file=sys.stderr)
    return 130


@contextlib.contextmanager
def _remembered_ctrl_c() -> Iterator[threading.Event]:
    """Ctrl-C raises KeyboardInterrupt as usual and is also remembered: TensorFlow can catch
    an exception raised while it traces a function (a Ctrl-C in the first second of a training
    was lost, and the run went on), so the training checks the flag at each progress report."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted  # signal handlers belong to the main thread
        return

    def on_ctrl_c(signum, frame):
        interrupted.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _stopping(progress: ProgressFn | None, interrupted: threading.Event) -> ProgressFn:
    """``progress`` (or nothing) after a check that Ctrl-C was not pressed and lost."""

    def report(p: Progress) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        if progress is not None:
            progress(p)

    return report


def _run(args: argparse.Namespace, interrupted: threading.Event | None = None) -> int:
    try:
        config = make_config(args)
        ignored = ignored_note(args, config)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if ignored:
        print(f"note: {ignored}", file=sys.stderr)
    try:
        methods = None if args.methods is None else method_names(args.methods)
    except ValueError as exc:
        print(f"error: --methods: {exc}", file=sys.stderr)
        return 2
    problem = sequence_problem(args, config)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.save:
        problem = save_problem(Path(args.save))
        if problem:
            print(f"error: --save: {problem}", file=sys.stderr)
            return 2

    from rnnviz.data.source import source_of
    from rnnviz.data.split import DataError
    from rnnviz.experiment import compare_methods, explain, interactions_json, saturation
    from rnnviz.training.fit import train
    from rnnviz.training.saving import save

    source = source_of(config)
    real = source.has_forecast  # judged against its baselines: a real series
    rule = source.rule  # None: no rule and no ground truth
    if not args.quiet:
        if rule is None:
            print(f"data: {config.dataset}, outcome {config.outcome}", file=sys.stderr)
        else:
            print(f"rule: {rule.expression}  (depends on {rule.describe_truth()})", file=sys.stderr)
        print(f"model: {describe_model(config)}, {describe_budget(config)}", file=sys.stderr)
    with training_progress(sys.stderr, live=sys.stderr.isatty(), quiet=args.quiet) as shown:
        progress = _stopping(shown, interrupted or threading.Event())
        try:
            result = train(config, progress)
        except DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        comparison = None
        if methods is not None:
            comparison = compare_methods(result, config, methods, progress=progress)
    scores = explain(result, config) if methods is None or real else None
    series = series_results(config, result, scores) if real else None
    # the check's largest effect: the perturbation scores, when there are any
    effects = scores if comparison is None else comparison.attributions.get("perturbation", scores)
    check = saturation(result, config, effects)
    warning = saturation_warning(check, REMEDY_CLI)
    if args.save:
        save(result, args.save)
    if args.json:
        out = {"config": config.to_dict()}
        if rule is not None:
            out["rule"] = {
                "expression": rule.expression,
                "ground_truth": sorted([f, lag] for f, lag in rule.ground_truth),
            }
        out["training"] = {
            **result.metrics(),
            "history": result.history,
            "snapshots": [s.to_dict() for s in result.snapshots],
        }
        out["interactions"] = interactions_json(result, config)
        if comparison is None:
            out["scores"] = scores.to_dict()
        else:
            out |= comparison_json(comparison)
        out.update(series or {})
        out["saturation"] = {**check.to_dict(), "warning": warning}
        if args.explain_sequence is not None:
            out["sequence"] = explain_sequence(result, config, args)[1]
        print(json.dumps(out, indent=2))
    else:
        print(training_verdict(result))
        if series is not None:
            print(series["verdict"]["text"])
        print(f"trained {result.epochs_run} epochs in {result.seconds:.1f} s; sigma={config.sigma}")
        improving = improving_note(result)
        if improving:
            print(improving)
        print(format_tables(scores) if comparison is None else format_comparison(comparison, rule))
        if series is not None:
            print(f"\n{series['reading']}")
        note = effect_scale_note(config)
        if note is not None:
            print(f"\n{note}")
        if warning is not None:
            print(f"\nwarning: {warning}")
        if args.explain_sequence is not None:
            print(f"\n{explain_sequence(result, config, args)[0]}")
    if real:  # judged against its baselines above, not graded as a rule learned
        return 0
    if result.grade == "partly learned":
        print(
            "caution: the model only partly learned; its importances describe a model that is "
            "only partly right",
            file=sys.stderr,
        )
    elif result.grade == "did not learn":
        print("warning: the model did not learn; its importances mean little", file=sys.stderr)
    return 0


def sequence_problem(args: argparse.Namespace, config: Config) -> str | None:
    """What is wrong with --explain-sequence / --output-step for ``config`` (checked before any
    training), or None."""
    i, t = args.explain_sequence, args.output_step
    if i is None:
        return None if t is None else "--output-step needs --explain-sequence"
    if not 0 <= i < config.n_score:
        return f"--explain-sequence: choose a scored sequence from 0 to {config.n_score - 1}"
    if t is not None and not 0 <= t < config.seq_len:
        return f"--output-step: choose an output step from 0 to {config.seq_len - 1}"
    return None


def explain_sequence(
    result: TrainResult, config: Config, args: argparse.Namespace
) -> tuple[str, dict]:
    """(text, JSON) of the per-sequence maps of ``--explain-sequence``: per method, the top
    cells signed and a reading; with a rule, the cells it reads and how each map scores."""
    from rnnviz.attr.sequence import params_from_config, sequence_attributions, truth_scores
    from rnnviz.experiment import ground_truth, method_context
    from rnnviz.report.readings import (
        sequence_cell_lines,
        sequence_label,
        sequence_reading,
        sequence_units,
    )

    ctx = method_context(result, config)
    attrs = sequence_attributions(
        ctx, args.explain_sequence, output_step=args.output_step, params=params_from_config(config)
    )
    rule = ground_truth(config)
    first = next(iter(attrs.values()))
    target = "" if first.target is None else f", target {first.target[first.output_step]:g}"
    lines = [f"Sequence {first.sequence}, output step {first.output_step}: output "
             f"{first.output:.3f}{target}"]  # fmt: skip
    data: dict = {"index": first.sequence, "output_step": first.output_step, "methods": {}}
    for name, attr in attrs.items():
        lines += [f"{sequence_label(name)} ({sequence_units(name)}):"]
        lines += [f"  {line}" for line in sequence_cell_lines(attr, digits=4)]
        lines += [f"  {sequence_reading(attr)}"]
        data["methods"][name] = attr.to_dict()
        if rule is not None:
            data["methods"][name]["truth_scores"] = truth_scores([attr], rule, every_step=False)
    return "\n".join(lines), data


def save_problem(path: Path) -> str | None:
    """Why ``--save`` could not write its folder at ``path`` (checked before any training, so a
    typo costs no training), or None: the folder may exist (it is overwritten) or be new in an
    existing, writable folder."""
    if path.exists() and not path.is_dir():
        return f"{path} is a file; name a folder (it is created if it does not exist)"
    folder = path if path.is_dir() else path.parent
    if not folder.exists():
        return f"folder {folder} does not exist: create it first, or save somewhere else"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable: save somewhere else"
    return None


@contextlib.contextmanager
def training_progress(
    stream: TextIO, live: bool, quiet: bool = False, force_terminal: bool | None = None
) -> Iterator[ProgressFn | None]:
    """The training's progress report on ``stream``: on a terminal (``live``) a rich progress
    bar with the time remaining, restarted for each training (stepwise retrains); in a log (CI,
    a pipe) one plain line per epoch; nothing when ``quiet``."""
    if quiet:
        yield None
        return
    if not live:

        def plain(p: Progress) -> None:
            if p.step == p.steps:
                print(f"  training: {p.fraction:5.0%}  {p}", file=stream, flush=True)

        yield plain
        return

    from rich import progress as rich_progress
    from rich.console import Console

    columns = (
        rich_progress.TextColumn("  training"),
        rich_progress.BarColumn(),
        rich_progress.TaskProgressColumn(),
        rich_progress.TimeRemainingColumn(),
        rich_progress.TextColumn("{task.fields[status]}"),
    )
    console = Console(file=stream, force_terminal=force_terminal)
    with rich_progress.Progress(*columns, console=console) as bar:
        task = bar.add_task("training", total=1.0, status="")
        done = 0.0

        def rich_bar(p: Progress) -> None:
            nonlocal done, task
            if p.fraction < done:  # another training started: a bar of its own
                bar.stop_task(task)
                task = bar.add_task("training", total=1.0, status="")
            done = p.fraction
            bar.update(task, completed=p.fraction, status=str(p))

        yield rich_bar


def app_main(argv: Sequence[str], prog: str = f"{PROG} app") -> int:
    """``rnnviz app [streamlit options]``: the dashboard, served by ``streamlit run`` on the
    script shipped in the package; every argument goes to Streamlit (e.g. --server.port 8502)."""
    if argv[:1] in (["-h"], ["--help"]):
        print(
            f"usage: {prog} [streamlit options]\n\n"
            "Start the rnnviz dashboard in a browser tab (stop it with Ctrl-C). Every option is "
            "passed to\n'streamlit run', e.g. --server.port 8502 --server.headless true; "
            "'streamlit run --help' lists them."
        )
        return 0
    if importlib.util.find_spec("streamlit") is None:
        print(
            "error: the dashboard needs Streamlit and Plotly: pip install 'rnnviz[app]'",
            file=sys.stderr,
        )
        return 2
    spec = importlib.util.find_spec("rnnviz.ui.script.app")  # found, not run: no streamlit here
    if spec is None or spec.origin is None:
        print("error: this rnnviz install has no dashboard script; reinstall it", file=sys.stderr)
        return 2
    return _run_command([sys.executable, "-m", "streamlit", "run", spec.origin, *argv])


def _run_command(cmd: list[str]) -> int:
    """Run ``cmd`` in place of this process where the system can (signals and the exit status
    go straight to Streamlit, and no idle Python process waits for it), else as a child."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(cmd[0], cmd)  # does not return
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130


def series_results(config: Config, result: TrainResult, scores: Attribution) -> dict:
    """A real series' extra results: its feature names, the verdict against the baselines on
    the scored year (text and numbers) and the reading with its caveats."""
    from rnnviz.data.source import source_of
    from rnnviz.report.readings import judge, series_reading

    forecast, verdict = judge(config, result.predict)
    return {
        "feature_names": list(source_of(config).feature_names),
        "verdict": {"text": verdict, **forecast},
        "reading": series_reading(config, scores),
    }


def improving_note(result: TrainResult) -> str | None:
    """Lines saying that validation loss was still falling and how to train longer, or None."""
    note = result_improving_note(result.history)
    if note is None:
        return None
    more = longer(result.config)
    if more is None:
        return f"{note}\nNo more epochs fit within the bounds."
    return f"{note}\nTrain longer with --epochs {more.epochs}."


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
