"""What do training snapshots cost? (by hand)

    python benchmarks/bench_snapshots.py --rounds 5

Trains the same configs with and without snapshots (``rnnviz.model.train(snapshots=...)``),
alternating the order each round, in this one process as a server would (compiled models and
traces of the same shapes are reused: a first, untimed training of each config warms them).
Prints the median fitting time of each side, their ratio (goal: <= 1.10), and checks that the
weights are identical with and without snapshots.
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
from rnnviz.model import train

CONFIGS = {
    "default (reference rule)": Config(),
    "lagged": Config(rule="lagged"),
    "default, 6 features": Config(n_features=6, seed=3),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    ratios = []
    print(f"{'config':<26} {'without (s)':>11} {'with (s)':>9} {'ratio':>6} {'snapshots':>9}")
    for name, config in CONFIGS.items():
        train(config.replace(seed=config.seed + 1000))  # warm: compiled trainer and traces
        train(config.replace(seed=config.seed + 1000), snapshots=False)
        times: dict[bool, list[float]] = {True: [], False: []}
        count = 0
        weights = {}
        for r in range(args.rounds):
            for snapshots in (True, False) if r % 2 == 0 else (False, True):
                start = time.perf_counter()
                result = train(config, snapshots=snapshots)
                times[snapshots].append(time.perf_counter() - start)
                weights[snapshots] = result.model.get_weights()
                if snapshots:
                    count = len(result.snapshots)
        same = all(np.array_equal(a, b) for a, b in zip(weights[True], weights[False], strict=True))
        without, with_ = statistics.median(times[False]), statistics.median(times[True])
        ratios.append(with_ / without)
        print(
            f"{name:<26} {without:11.3f} {with_:9.3f} {with_ / without:6.3f} {count:9d}"
            + ("" if same else "  WEIGHTS DIFFER")
        )
    print(f"median ratio over configs: {statistics.median(ratios):.3f} (goal <= 1.10)")


if __name__ == "__main__":
    main()
