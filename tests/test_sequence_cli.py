"""``--explain-sequence``: the top cells of one sequence, signed; its map in ``--json``."""

from __future__ import annotations

import json
import re

import pytest

from rnnviz.cli import main

TINY = ["--n-train", "300", "--n-val", "100", "--n-score", "30", "--epochs", "1",
        "--seq-len", "5", "--n-repeats", "2", "--quiet"]  # fmt: skip


def test_prints_signed_top_cells_per_method(capsys) -> None:
    assert main([*TINY, "--explain-sequence", "3", "--output-step", "2"]) == 0
    out = capsys.readouterr().out
    assert "Sequence 3, output step 2: output " in out
    for label in ("Input perturbation", "Ablation", "Partial derivatives", "Integrated gradients"):
        assert label in out
    cells = re.findall(r"^  (x\d) at step (\d): ([+-]\d\.\d{4})", out, flags=re.M)
    assert cells, out
    # A causal model's output 2 reads no later input: no top cell sits after step 2 unless
    # its effect is exactly zero.
    for _, step, value in cells:
        assert int(step) <= 2 or float(value) == 0.0


def test_json_holds_the_map_and_its_truth_scores(capsys) -> None:
    assert main([*TINY, "--json", "--explain-sequence", "0"]) == 0
    data = json.loads(capsys.readouterr().out)
    seq = data["sequence"]
    assert seq["index"] == 0 and seq["output_step"] == 4  # default: the last output
    pert = seq["methods"]["perturbation"]
    assert len(pert["effect"]) == 3 and len(pert["effect"][0]) == 5  # (F, T)
    assert len(pert["std"]) == 3  # perturbation repeats: a spread
    assert seq["methods"]["ablation"]["std"] is None
    assert set(pert["truth_scores"]) == {"auc", "aupr", "top_on_deciding"}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--explain-sequence", "30"], "from 0 to 29"),
        (["--explain-sequence", "0", "--output-step", "5"], "from 0 to 4"),
        (["--output-step", "1"], "needs --explain-sequence"),
    ],
)
def test_bad_sequence_or_step_exits_2_before_training(capsys, flags, message) -> None:
    assert main([*TINY, *flags]) == 2
    assert message in capsys.readouterr().err
