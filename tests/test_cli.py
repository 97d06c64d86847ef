"""The command line: tables in the thread's format, JSON, and clear errors with exit status 2."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from rnnviz.cli import main

TINY = [
    "--n-train",
    "300",
    "--n-val",
    "100",
    "--n-score",
    "30",
    "--epochs",
    "1",
    "--seq-len",
    "5",
    "--n-repeats",
    "2",
]


def test_prints_the_threads_table_and_per_step_tables(capsys):
    assert main([*TINY, "--rule", "lagged"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    for i in (1, 2, 3):
        assert any(line.startswith(f"Variable {i}, perturbation effect: ") for line in lines)
    assert "lag=2" in out and "s=4" in out
    assert "training" in err and "epoch 1/1" in err
    assert "x1 at lag 2" in err


def test_the_model_is_named_with_its_cell(capsys):
    assert main([*TINY, "--cell", "gru", "--units", "4", "--activations", "tanh"]) == 0
    out, err = capsys.readouterr()
    assert "model: GRU 4 (tanh), dense head, 1 epoch\n" in err
    assert out.startswith("The GRU ")  # the verdict says which model it is about


def test_json_output_is_complete_and_machine_readable(capsys, tmp_path):
    assert main([*TINY, "--json", "--quiet", "--save", str(tmp_path / "m")]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert len(data["scores"]["importances_mean"]) == 3
    assert len(data["scores"]["importances"][0]) == 2
    assert data["rule"]["ground_truth"] == [[0, 0], [1, 0]]
    assert data["config"]["seq_len"] == 5 and "learned" in data["training"]
    assert (tmp_path / "m" / "model.keras").exists()
    assert "training" not in err


def test_config_file_and_preset(capsys, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"rule": "x2 > 0.5", "n_features": 2}))
    assert main([*TINY, "--config", str(path), "--json", "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"]["rule"] == "x2 > 0.5" and data["config"]["n_features"] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seq-len", "1"], "seq_len = 1 is not allowed: a whole number from 2 to 200"),
        (["--sigma", "abc"], "sigma"),
        (["--rule", "__import__('os')"], "unknown"),
        (["--rule", "x1 > 5"], "almost one class"),
        (["--config", "/nonexistent.json"], "cannot read config file"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, args, message):
    assert main([*TINY, *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "flags", "message"),
    [
        ('{"outcome": []}', ["--dataset", "seattle-weather"], "outcome = []"),
        ('{"dataset": "seattle-weather", "outcome": {}}', [], "outcome = {}"),
        ('{"units": [Infinity]}', [], "units = [inf]"),
        ('{"units": [1e400, 5]}', [], "units = [inf, 5]"),
        ('{"units": [10, 5.5]}', [], "units = [10, 5.5]"),  # never truncated to 5
        ('{"units": [10, true]}', [], "units = [10, True]"),
        ('{"seq_len": 1e400}', [], "seq_len = inf"),
        ('{"seed": ' + "9" * 5000 + "}", [], "seed = a number of 5000 digits"),
        ('{"units": ' + "[" * 20_000 + "]" * 20_000 + "}", [], "units = '[[[[[[[[[[[[...'"),
        ('{"correlated": ' + "[" * 50 + "]" * 50 + "}", [], "correlated = '[[[[[[[[[[[[..."),
        ('{"units": ' + "[" * 100_000 + "]" * 100_000 + "}", [], "longer than 100,000"),
        ('{"rule": "x1 > 0.5", "' + "k" * 500 + '": 1}', [], "unknown setting"),
        (b'{"rule": "\xff"}', [], "cannot read config file"),
    ],
    ids=[
        "outcome list",
        "outcome object",
        "Infinity",
        "overflow",
        "fractional layer",
        "true layer",
        "overflow seq_len",
        "huge int",
        "deep list",
        "deep pairs",
        "long file",
        "long key",
        "not UTF-8",
    ],
)
def test_every_config_file_error_exits_2_naming_the_setting(capsys, tmp_path, text, flags, message):
    path = tmp_path / "c.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["--config", str(path), *flags, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err[:300]
    assert "Traceback" not in err and len(err) < 600


def test_module_entry_point_runs():
    done = subprocess.run(
        [sys.executable, "-m", "rnnviz", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "--preset" in done.stdout and "reference" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "rnnviz", "--preset", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_tables_say_which_outputs_counted_and_lags_start_at_0():
    import numpy as np

    from rnnviz.attr.scoring import perturbation_importance
    from rnnviz.cli import format_tables

    x = np.random.default_rng(0).random((20, 5, 2), dtype=np.float32)

    def x1_two_back(a):
        out = np.zeros(a.shape[:2], np.float32)
        out[:, 2:] = a[:, :-2, 0]
        return out

    valid = np.broadcast_to(np.arange(5) >= 2, (20, 5))
    text = format_tables(perturbation_importance(x1_two_back, x, n_repeats=1, valid=valid))
    assert "output steps 2-4 (no target at steps 0-1)" in text
    lag_header = [line for line in text.splitlines() if "lag=" in line][0]
    # a causal function: its negative lags are exactly 0 and are not printed
    assert lag_header.split()[1:] == [f"lag={k}" for k in range(5)]
    plain = format_tables(perturbation_importance(x1_two_back, x, n_repeats=1))
    assert "every output counted" in plain


@pytest.fixture
def graded(monkeypatch):
    """Real training whose verdict numbers are then set by hand: 75% against a 50% baseline
    (partly learned), with a validation loss that fell 20% over its last epoch."""
    import rnnviz.training.fit

    real = rnnviz.training.fit.train

    def train(config, progress=None):
        return dataclasses.replace(
            real(config, progress),
            val_accuracy=0.75,
            baseline_accuracy=0.5,
            history={"loss": [0.6, 0.5], "val_loss": [0.5, 0.4]},
        )

    monkeypatch.setattr(rnnviz.training.fit, "train", train)


def test_text_says_the_grade_and_offers_more_epochs(capsys, graded):
    assert main([*TINY, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("The LSTM only PARTLY learned the rule: validation accuracy 75.0%")
    assert "loss was still falling at the last epoch: 0.5000 → 0.4000" in out
    assert "Train longer with --epochs 2." in out
    assert "caution: the model only partly learned" in err and "warning" not in err


def test_json_has_the_grade(capsys, graded):
    assert main([*TINY, "--json", "--quiet"]) == 0
    training = json.loads(capsys.readouterr().out)["training"]
    assert training["grade"] == "partly learned" and training["learned"] is False
    assert training["still_improving"] is True


# --------------------------------------------------------------------------- --methods


def test_help_lists_the_registry_s_methods(capsys):
    from rnnviz.attr.registry import METHODS, default_methods

    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for name in METHODS:
        assert name in help_text
    assert ", ".join(default_methods()) in help_text


def test_methods_run_through_the_comparison(capsys):
    assert main([*TINY, "--quiet", "--rule", "lagged", "--methods", "saliency,ablation"]) == 0
    out = capsys.readouterr().out
    for label in ("Partial derivatives (saliency)", "Ablation (occlusion)", "Random scores"):
        assert label in out
    assert "Variable 1, perturbation effect" not in out  # perturbation was not asked for
    tables = out.split("Truth scores")[0]
    assert tables.count("feature") >= 2 and "x3" in tables
    truth = out.split("Truth scores")[1]
    assert "feature_auc" in truth and "lag_auc" in truth


def test_methods_in_json(capsys):
    assert main([*TINY, "--json", "--quiet", "--methods", "default,tsr:perturbation"]) == 0
    data = json.loads(capsys.readouterr().out)
    from rnnviz.attr.registry import default_methods

    names = [*default_methods(), "tsr:perturbation", "random"]
    assert list(data["methods"]) == names
    assert len(data["methods"]["garson"]["importances_mean"]) == 3
    assert [row["method"] for row in data["truth_scores"]] == names
    assert 0.0 <= data["truth_scores"][0]["feature_auc"] <= 1.0
    assert data["truth_scores"][names.index("connection_weights")]["lag_auc"] is None
    assert data["rank_agreement"]["methods"] == names
    assert len(data["rank_agreement"]["rho"]) == len(names)


@pytest.mark.parametrize("methods", ["nope", "saliency,nope", "tsr", "lek:perturbation", ","])
def test_unknown_methods_exit_2_listing_the_valid_names(capsys, methods):
    assert main([*TINY, "--quiet", "--methods", methods]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --methods:")
    if "nope" in methods:
        assert "perturbation, sigma_sweep, ablation" in err and "default" in err


# --------------------------------------------------------------------------- real series


def test_real_series_json_has_names_both_baselines_and_no_truth(capsys):
    pytest.importorskip("vega_datasets")
    assert main(["--dataset", "seattle-weather", "--epochs", "1", "--n-repeats", "1"]) == 0
    out, err = capsys.readouterr()
    assert "Variable 1 (precipitation), perturbation effect: " in out
    assert "precipitation " in out and "x1 " not in out  # the tables name the measurements
    assert "persistence" in out and "Caveats (real data):" in out
    assert "rule:" not in err and "caution" not in err and "warning" not in err

    assert main(["--dataset", "seattle-weather", "--epochs", "1", "--json", "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = ["precipitation", "temp_max", "temp_min", "wind"]
    assert data["feature_names"] == names and data["scores"]["features"] == names
    assert "rule" not in data  # no ground truth on real data
    assert data["config"]["n_features"] == 4 and data["config"]["input_scaling"] is False
    verdict = data["verdict"]
    assert {"accuracy", "majority_accuracy", "persistence_accuracy"} <= set(verdict)
    assert verdict["days"] == 337 and "persistence" in verdict["text"]
    assert "more common outcome" in verdict["text"]
    assert "No ground truth" in data["reading"]


def test_real_series_regression_starts_from_its_preset(capsys):
    from rnnviz.cli import build_parser, make_config
    from rnnviz.config import PRESETS

    config = make_config(build_parser().parse_args(["--dataset", "seattle-weather"]))
    assert config == PRESETS["seattle-weather"]
    args = ["--dataset", "seattle-weather", "--outcome", "temp_max", "--epochs", "3"]
    assert make_config(build_parser().parse_args(args)) == PRESETS["seattle-temp"].replace(epochs=3)
    assert main(["--dataset", "seattle-weather", "--n-features", "5"]) == 2
    assert "n_features = 5" in capsys.readouterr().err


def test_a_series_says_the_counts_it_does_not_read_were_ignored():
    from rnnviz.cli import build_parser, ignored_note, make_config

    args = build_parser().parse_args(["--dataset", "seattle-weather", "--n-score", "10"])
    config = make_config(args)
    assert config.n_score == 337  # every window of 2015 at 28 days
    note = ignored_note(args, config)
    assert note is not None and "n_score = 10" in note and "337" in note
    plain = build_parser().parse_args(["--dataset", "seattle-weather"])
    assert ignored_note(plain, make_config(plain)) is None


# --------------------------------------------------------------------------- as users expect


def _help(capsys, argv=("--help",), **kwargs) -> str:
    with pytest.raises(SystemExit) as done:
        main(list(argv), **kwargs)
    assert done.value.code == 0
    return capsys.readouterr().out


def test_prog_is_the_command_that_was_typed(capsys):
    assert _help(capsys).startswith("usage: rnnviz ")  # the installed script
    done = subprocess.run(
        [sys.executable, "-m", "rnnviz", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.startswith("usage: python -m rnnviz ")


def test_knobs_with_a_fixed_list_offer_it_as_choices(capsys):
    from rnnviz.config import CELLS, DATASETS, HEADS, OUTCOMES

    help_text = _help(capsys)
    for flag, names in [("cell", CELLS), ("head", HEADS), ("dataset", DATASETS)]:
        assert f"--{flag} {{{','.join(names)}}}" in help_text
    assert f"--outcome {{{','.join(OUTCOMES)}}}" in help_text
    with pytest.raises(SystemExit) as done:
        main([*TINY, "--cell", "transformer"])
    assert done.value.code == 2
    assert "invalid choice: 'transformer'" in capsys.readouterr().err


def test_help_shows_each_knob_s_default(capsys):
    from rnnviz.config import PRESETS

    default = PRESETS["default"]
    help_text = " ".join(_help(capsys).split())  # argparse wraps lines
    assert f"--seq-len V steps per sequence (default: {default.seq_len})" in help_text
    assert f"(default: {','.join(map(str, default.units))})" in help_text
    assert f"Adam learning rate (default: {default.learning_rate})" in help_text
    assert "--preset" in help_text and "(default: default" in help_text


def test_version(capsys):
    import rnnviz

    assert _help(capsys, ["--version"]).strip() == f"rnnviz {rnnviz.__version__}"


@pytest.fixture
def no_training(monkeypatch):
    """Training that fails the test if it starts."""
    import rnnviz.training.fit

    def train(*args, **kwargs):
        raise AssertionError("trained before the arguments were checked")

    monkeypatch.setattr(rnnviz.training.fit, "train", train)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/m", "folder {parent} does not exist"),
        ("a_file", "{path} is a file"),
        ("a_file/m", "{parent} is not a folder"),
    ],
)
def test_save_is_checked_before_training(capsys, tmp_path, no_training, where, message):
    (tmp_path / "a_file").write_text("not a folder")
    path = tmp_path / where
    assert main([*TINY, "--save", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --save: ") and "Traceback" not in err
    assert message.format(path=path, parent=path.parent) in err


def test_ctrl_c_exits_130_with_one_line(capsys, monkeypatch):
    import rnnviz.training.fit

    def train(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rnnviz.training.fit, "train", train)
    assert main([*TINY, "--quiet"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_ctrl_c_during_training_in_a_real_process():
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnviz", "--epochs", "50", "--patience", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []  # up to "rule: ...": the arguments are read, training is next
        while not (lines and lines[-1].startswith("rule: ")):
            lines.append(proc.stderr.readline())
            assert lines[-1] and len(lines) < 50, lines  # TensorFlow logs a few lines first
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and err.splitlines()[-1] == "interrupted"


def _progress_reports(epochs: int = 2, steps: int = 3):
    from rnnviz.training.result import Progress

    for epoch in range(1, epochs + 1):
        for step in range(1, steps + 1):
            yield Progress(
                epoch, epochs, step, steps, loss=0.5, val_loss=0.4 if step == steps else None
            )


def test_progress_in_a_log_is_one_plain_line_per_epoch():
    import io

    from rnnviz.cli import training_progress

    stream = io.StringIO()
    with training_progress(stream, live=False) as report:
        for p in _progress_reports():
            report(p)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    assert [line.split("  ")[-1] for line in lines] == [
        "epoch 1/2, loss 0.5000, val loss 0.4000",
        "epoch 2/2, loss 0.5000, val loss 0.4000",
    ]


def test_progress_on_a_terminal_is_a_rich_bar_with_an_estimate():
    import io

    from rnnviz.cli import training_progress

    stream = io.StringIO()
    with training_progress(stream, live=True, force_terminal=True) as report:
        for p in _progress_reports():
            report(p)
    text = stream.getvalue()
    assert "\x1b[" in text and "━" in text  # rich's bar, drawn in place
    assert "epoch 2/2, loss 0.5000, val loss 0.4000" in text
    assert "0:00:0" in text  # the time-remaining column


def test_app_runs_streamlit_on_the_packaged_script(capsys, monkeypatch):
    import rnnviz.cli

    calls = []
    monkeypatch.setattr(rnnviz.cli, "_run_command", lambda cmd: calls.append(cmd) or 0)
    assert main(["app", "--server.port", "8600", "--server.headless", "true"]) == 0
    (cmd,) = calls
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    script = cmd[4]
    assert script.endswith("rnnviz/ui/script/app.py") and os.path.isfile(script)
    assert cmd[5:] == ["--server.port", "8600", "--server.headless", "true"]
    capsys.readouterr()
    assert main(["app", "--help"]) == 0 and not calls[1:]
    assert capsys.readouterr().out.startswith("usage: rnnviz app [streamlit options]")
