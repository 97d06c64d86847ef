"""Do two trainings at once finish a queue sooner than one at a time? (run by hand)

Trains the same N small experiments (default recipe, different seeds and presets) one at a time
and with 2 worker threads, alternating the two modes over ``--rounds`` so both see the same
machine load, and prints the wall time of each and their ratio. Trainings are reproducible under
concurrency (tests/test_reproducible.py), so parallelism is a throughput question only.

    python benchmarks/bench_parallel.py --n 6 --rounds 2
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone: rnnviz is here

from rnnviz.config import Config
from rnnviz.training.fit import train

RULES = ("reference", "threshold", "lagged")


def configs(n: int) -> list[Config]:
    return [Config(rule=RULES[i % len(RULES)], seed=100 + i) for i in range(n)]


def run(cfgs: list[Config], workers: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(train, cfgs))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    cfgs = configs(args.n)
    train(cfgs[0].replace(n_train=100, epochs=1))  # warm up TensorFlow
    one, many = [], []
    for _ in range(args.rounds):
        one.append(run(cfgs, 1))
        many.append(run(cfgs, args.workers))
    best1, bestn = min(one), min(many)
    print(f"{args.n} trainings, one at a time:      {best1:6.1f} s  (runs: {one})")
    print(f"{args.n} trainings, {args.workers} at a time:        {bestn:6.1f} s  (runs: {many})")
    print(f"throughput ratio (parallel / serial): {best1 / bestn:.2f}x")


if __name__ == "__main__":
    main()
