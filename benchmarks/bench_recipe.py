"""Does the default recipe learn every preset, and how long does a training take? (by hand)

    python benchmarks/bench_recipe.py --seeds 10

For every preset rule, trains the default recipe on ``--seeds`` seeds (0..N-1) in this one
process, as a hosted server would (compiled models of the same shapes are reused), and prints
how many seeds each verdict grade got (learned / partly / not), the median and lowest
validation accuracy, the largest error ratio (error over the majority-class error; "learned"
needs <= 0.2) and the median wall time of a training (the first training of a process also
traces the model and is reported apart).
Goal: >= 9 of 10 seeds learned on every preset.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone: rnnviz is here

from rnnviz.config import Config
from rnnviz.metrics import error_ratio
from rnnviz.rules import RULE_PRESETS
from rnnviz.training.fit import train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--rules", nargs="*", default=list(RULE_PRESETS))
    args = ap.parse_args()
    start = time.perf_counter()
    train(Config(seed=12345))
    print(f"first training of the process (traces the model): {time.perf_counter() - start:.2f} s")
    for rule in args.rules:
        times, accs, ratios, grades = [], [], [], Counter()
        for seed in range(args.seeds):
            t = time.perf_counter()
            r = train(Config(rule=rule, seed=seed))
            times.append(time.perf_counter() - t)
            accs.append(r.val_accuracy)
            ratios.append(error_ratio(r.val_accuracy, r.baseline_accuracy) or 0.0)
            grades[r.grade] += 1
        print(
            f"{rule:15s} learned {grades['learned']:2d}/{args.seeds} "
            f"(partly {grades['partly learned']}, not {grades['did not learn']})  "
            f"median accuracy {statistics.median(accs):.3f} (min {min(accs):.3f})  "
            f"error ratio <= {max(ratios):.3f}  median training {statistics.median(times):.2f} s"
        )


if __name__ == "__main__":
    main()
