"""What do training snapshots cost? (by hand)

    python benchmarks/bench_snapshots.py --rounds 5

Trains the same configs with and without snapshots (``rnnviz.training.fit.train(snapshots=...)``),
side by side in rounds over all configs (the order alternating), in this one process as a
server would: untimed trainings of every config in both modes first warm the compiled
trainers and traces (the first training of a process traces everything and is not what a
visitor waits for). Prints the median time of a whole ``train()`` call on each side, their
ratio (goal: <= 1.10), and checks that the weights are identical with and without.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone: rnnviz is here

import numpy as np

from rnnviz.config import Config
from rnnviz.training.fit import train

CONFIGS = {
    "default (reference rule)": Config(),
    "lagged": Config(rule="lagged"),
    "default, 6 features": Config(n_features=6, seed=3),
    "default, seed 1": Config(seed=1),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    for config in CONFIGS.values():  # warm every shape first: compiled trainers and traces
        for snapshots in (True, False, True, False):
            train(config.replace(seed=config.seed + 1000), snapshots=snapshots)
    times = {name: {True: [], False: []} for name in CONFIGS}
    cpu = {True: 0.0, False: 0.0}  # process CPU time (all threads): the cost with no core free
    count, same = {}, {}
    for r in range(args.rounds):  # rounds over all configs, the order alternating
        for name, config in CONFIGS.items():
            weights = {}
            for snapshots in (True, False) if r % 2 == 0 else (False, True):
                start, start_cpu = time.perf_counter(), time.process_time()
                result = train(config, snapshots=snapshots)
                times[name][snapshots].append(time.perf_counter() - start)
                cpu[snapshots] += time.process_time() - start_cpu
                weights[snapshots] = result.model.get_weights()
                if snapshots:
                    count[name] = len(result.snapshots)
            same[name] = all(
                np.array_equal(a, b) for a, b in zip(weights[True], weights[False], strict=True)
            )
    ratios = []
    print(f"{'config':<26} {'without (s)':>11} {'with (s)':>9} {'ratio':>6} {'snapshots':>9}")
    for name in CONFIGS:
        without = statistics.median(times[name][False])
        with_ = statistics.median(times[name][True])
        ratios.append(with_ / without)
        print(
            f"{name:<26} {without:11.3f} {with_:9.3f} {with_ / without:6.3f} {count[name]:9d}"
            + ("" if same[name] else "  WEIGHTS DIFFER")
        )
    total = sum(statistics.median(t[True]) for t in times.values()) / sum(
        statistics.median(t[False]) for t in times.values()
    )
    print(
        f"ratio of summed medians: {total:.3f}; median of ratios: {statistics.median(ratios):.3f}"
    )
    print(f"CPU time (all threads), with / without: {cpu[True] / cpu[False]:.3f}")
    print("goal: <= 1.10 (weights identical with and without snapshots)")


if __name__ == "__main__":
    main()
