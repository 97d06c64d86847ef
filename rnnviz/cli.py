"""Command line: train on a config and print the thread's per-feature table and per-step tables.

``python -m rnnviz --preset reference`` reproduces the Cross Validated experiment;
``--methods saliency,garson`` runs registered methods side by side (:mod:`rnnviz.explain.registry`)
and scores them against the rule; ``python -m rnnviz --dataset seattle-weather`` (``--outcome
temp_max``) runs the real series: its verdict against the baselines, the tables with the
measurements' names and a reading; ``--json`` prints machine-readable results; bad input exits
with status 2 and a message.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnnviz.config import (
    DATASETS,
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
from rnnviz.explain.attribution import Attribution, drawn_lags, json_list
from rnnviz.explain.comparison import METRICS
from rnnviz.explain.registry import METHODS, check_name, default_methods, method_label
from rnnviz.report.readings import counted_outputs, thread_lines, verdict
from rnnviz.rules import RULE_PRESETS
from rnnviz.training.result import TrainResult, longer
from rnnviz.training.result import improving_note as result_improving_note

if TYPE_CHECKING:
    from rnnviz.explain.comparison import Comparison
    from rnnviz.rules import Rule

# flag -> Config field, for the knobs exposed on the command line
_FLAGS = {
    "seq_len": "steps per sequence",
    "n_features": "number of input features",
    "dataset": f"where the sequences come from: {', '.join(DATASETS)} (a real series starts "
    "from its preset: seattle-weather, or seattle-temp with --outcome temp_max)",
    "outcome": f"what a real series predicts: {', '.join(OUTCOMES)} (tomorrow's rain or max "
    "temperature)",
    "correlated": "correlated feature pairs with Spearman rho, e.g. x1~x4:0.95,x2~x3:-0.5",
    "rule": f"target rule: a preset ({', '.join(RULE_PRESETS)}) or an expression like "
    "'x1[t-2] > 0.5'",
    "sigma": "noise scale of the perturbation",
    "n_repeats": "independent noise draws",
    "n_train": "training sequences",
    "n_val": "validation sequences",
    "n_score": "sequences used for scoring",
    "cell": "recurrent cell: lstm, gru, simple_rnn or bilstm (bidirectional LSTM)",
    "units": "LSTM layer sizes, e.g. 10,5",
    "activations": "LSTM activations, e.g. tanh,tanh",
    "head": "per-step output layer: dense or lstm",
    "input_scaling": "map [0, 1) to [-1, 1) inside the model: true or false",
    "epochs": "training epochs",
    "batch_size": "training batch size",
    "learning_rate": "Adam learning rate",
    "patience": "early-stopping patience in epochs (0 = off)",
    "seed": "seed for data, initialisation and noise",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rnnviz",
        description="Which inputs does an LSTM rely on? Train on a synthetic rule and measure "
        "the RMS change of its predictions when N(0, sigma) noise is added to one feature.",
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="starting config (default: default, or the real series' preset with --dataset)",
    )
    p.add_argument("--config", metavar="FILE", help="JSON file of settings (applied after preset)")
    for name, text in _FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, metavar="V", help=text)
    p.add_argument(
        "--methods",
        metavar="NAMES",
        help=f"methods to run side by side and score against the rule, comma-separated: "
        f"{', '.join(METHODS)}; <method>:<base> for a method on a base (e.g. "
        f"tsr:perturbation); 'default' for {', '.join(default_methods())}. Without it: "
        "perturbation alone, in the thread's format",
    )
    p.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    p.add_argument("--save", metavar="DIR", help="save the trained model and its metadata here")
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


def format_comparison(comparison: Comparison, rule: Rule) -> str:
    """Each method's per-feature table (from its ``to_frame()``), then the truth scores and the
    verdict where the rule has ground truth."""
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
    if rule.ground_truth:
        truth = comparison.to_frame()[["method", *METRICS]]
        lines += [
            "Truth scores (how well each method's scores find the rule's inputs; - = no grain):",
            truth.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"),
            "",
            verdict(comparison, rule.features),
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
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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

    from rnnviz.data.source import source_of
    from rnnviz.data.split import DataError
    from rnnviz.experiment import compare_methods, explain, interactions_json
    from rnnviz.training.model import save, train

    live = sys.stderr.isatty()

    def progress(p) -> None:
        # On a terminal the line updates in place; in a log, one line per epoch.
        if args.quiet or (p.step < p.steps and not live):
            return
        end = "\n" if p.step == p.steps else "\r"
        print(f"  training: {p.fraction:5.0%}  {p}", file=sys.stderr, end=end, flush=True)

    source = source_of(config)
    real = source.has_forecast  # judged against its baselines: a real series
    rule = source.rule  # None: no rule and no ground truth
    if not args.quiet:
        if rule is None:
            print(f"data: {config.dataset}, outcome {config.outcome}", file=sys.stderr)
        else:
            print(f"rule: {rule.expression}  (depends on {rule.describe_truth()})", file=sys.stderr)
        print(f"model: {describe_model(config)}, {describe_budget(config)}", file=sys.stderr)
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
            "snapshots": [s.to_dict() for s in result.snapshots],  # issue 11, part 1
        }
        out["interactions"] = interactions_json(result, config)  # issue 11, part 3
        if comparison is None:
            out["scores"] = scores.to_dict()
        else:
            out |= comparison_json(comparison)
        out.update(series or {})
        print(json.dumps(out, indent=2))
    else:
        print(result.verdict())
        if series is not None:
            print(series["verdict"]["text"])
        print(f"trained {result.epochs_run} epochs in {result.seconds:.1f} s; sigma={config.sigma}")
        improving = improving_note(result)
        if improving:
            print(improving)
        print(format_tables(scores) if comparison is None else format_comparison(comparison, rule))
        if series is not None:
            print(f"\n{series['reading']}")
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
