"""Does the default recipe learn every preset with each recurrent cell? And the memory lesson.

    python benchmarks/bench_cells.py --seeds 10
    python benchmarks/bench_cells.py --memory --seeds 10

The first form trains every preset rule (``rnnviz.rules.PRESETS``) x seeds 0..N-1 x cells with
the default recipe, in this one process (compiled models of the same shapes are reused, as on
a server), and prints a table of verdict grades per preset and cell: "L/P/N" = seeds graded
learned / partly learned / did not learn, plus the median training time per cell.
Goal: >= 9 of 10 learned on every preset with LSTM and GRU.

``--memory`` runs the memory lesson pair instead (config presets "memory-simple-rnn" and
"memory-lstm": ``x1[t-8] > 0.5`` over 20 steps), scores each trained model and prints, per
seed, the grade, the accuracy against the baseline and the lag at which x1's lag profile
(``PerturbationResult.by_lag``) peaks, then the counts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone: rnnviz is here

import numpy as np  # noqa: E402

from rnnviz.config import CELLS, PRESETS, Config  # noqa: E402
from rnnviz.experiment import explain  # noqa: E402
from rnnviz.rules import RULE_PRESETS as RULES  # noqa: E402
from rnnviz.training.fit import train  # noqa: E402

GRADES = ("learned", "partly learned", "did not learn")


def grade_table(seeds: int, rules: list[str], cells: list[str]) -> None:
    """Train rules x seeds x cells and print the grade counts (one row per rule)."""
    counts: dict[tuple[str, str], Counter] = {}
    times: dict[str, list[float]] = {c: [] for c in cells}
    for cell in cells:
        start = time.perf_counter()
        train(Config(cell=cell, seed=12345))  # traces this cell's model once
        print(f"{cell}: first training (traces the model) {time.perf_counter() - start:.2f} s")
        for rule in rules:
            grades = counts[rule, cell] = Counter()
            for seed in range(seeds):
                t = time.perf_counter()
                grades[train(Config(rule=rule, cell=cell, seed=seed)).grade] += 1
                times[cell].append(time.perf_counter() - t)
            print(f"  {rule:15s} {_cell(grades)}", flush=True)
    print(f"\nGrades over seeds 0..{seeds - 1}, L/P/N = learned / partly / did not learn:\n")
    print(f"| {'preset':15s} | " + " | ".join(f"{c:10s}" for c in cells) + " |")
    print(f"|{'-' * 17}|" + "|".join("-" * 12 for _ in cells) + "|")
    for rule in rules:
        row = " | ".join(f"{_cell(counts[rule, c]):10s}" for c in cells)
        print(f"| {rule:15s} | {row} |")
    median = " | ".join(f"{statistics.median(times[c]):8.2f} s" for c in cells)
    print(f"| {'median training':15s} | {median} |")


def _cell(grades: Counter) -> str:
    return "/".join(str(grades[g]) for g in GRADES)


def memory_pair(seeds: int, names: list[str]) -> None:
    """The memory lesson presets over seeds: grade, accuracy and x1's lag peak per seed."""
    for name in names:
        base = PRESETS[name]
        grades: Counter = Counter()
        peaks: Counter = Counter()
        print(f"\n{name}: {base.rule!r}, seq_len {base.seq_len}, cell {base.cell}")
        for seed in range(seeds):
            cfg = base.replace(seed=seed)
            t = time.perf_counter()
            result = train(cfg)
            scores = explain(result)
            profile = scores.by_lag()[0]  # x1 over lags -(T-1) .. T-1
            peak = int(scores.lags[int(np.nanargmax(profile))])
            at8 = float(profile[list(scores.lags).index(8)])
            grades[result.grade] += 1
            peaks[peak] += 1
            print(
                f"  seed {seed}: {result.grade:15s} accuracy {result.val_accuracy:.3f} "
                f"(baseline {result.baseline_accuracy:.3f}), x1 lag peak {peak:+d} "
                f"(effect {np.nanmax(profile):.4f}; at lag 8 {at8:.4f}), "
                f"{time.perf_counter() - t:.1f} s",
                flush=True,
            )
        print(f"  grades: {dict(grades)}; x1 lag peaks: {dict(sorted(peaks.items()))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--rules", nargs="*", default=list(RULES))
    ap.add_argument("--cells", nargs="*", default=list(CELLS), choices=CELLS)
    ap.add_argument("--memory", action="store_true", help="run the memory lesson pair instead")
    args = ap.parse_args()
    if args.memory:
        memory_pair(args.seeds, ["memory-simple-rnn", "memory-lstm"])
    else:
        grade_table(args.seeds, args.rules, args.cells)


if __name__ == "__main__":
    main()
