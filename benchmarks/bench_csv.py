"""CSV upload parsing (run by hand, not a test): the csv module against pandas.read_csv.

    python benchmarks/bench_csv.py              # a ~27 MB file: 10,000 sequences x 50 steps
    python benchmarks/bench_csv.py --seqs 2000  # a smaller one

Writes a file of the upload format (sequence,step,x1..x5,y; rows shuffled, numbers with six
decimals), then times, best of ``--runs``, the csv-module parser (``_parse_csv``, the fallback
that words errors with their line) and the path uploads take (``_read_csv``: pandas when the
file is plainly numbers), and checks that both give the same arrays, bit for bit.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone: rnnviz is here

from rnnviz.config import DEFAULT_BOUNDS
from rnnviz.serve.uploads import _parse_csv, _read_csv


def make_file(n: int, steps: int, feats: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    seq, step = np.divmod(rng.permutation(n * steps), steps)
    x = rng.random((n * steps, feats))
    y = rng.integers(0, 2, n * steps)
    table = np.column_stack([seq, step, x, y])
    lines = ["sequence,step," + ",".join(f"x{i + 1}" for i in range(feats)) + ",y"]
    fmt = "%d,%d," + ",".join(["%.6f"] * feats) + ",%d"
    lines += [fmt % tuple(row) for row in table.tolist()]
    return ("\n".join(lines) + "\n").encode()


def best(fn, data: bytes, runs: int) -> tuple[float, tuple]:
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn(data, DEFAULT_BOUNDS)
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seqs", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--features", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    data = make_file(args.seqs, args.steps, args.features)
    print(f"file: {len(data) / 1e6:.1f} MB, {args.seqs * args.steps:,} rows")
    old, (x_old, y_old) = best(_parse_csv, data, args.runs)
    new, (x_new, y_new) = best(_read_csv, data, args.runs)
    same = x_old.tobytes() == x_new.tobytes() and y_old.tobytes() == y_new.tobytes()
    print(f"csv module (_parse_csv): {old:.2f} s")
    print(f"uploads' path (_read_csv, pandas): {new:.2f} s  ({old / new:.1f}x faster)")
    print(f"identical arrays: {same}  x {x_new.shape}, y {y_new.shape}")
    if not same:
        raise SystemExit("the two parsers disagree")


if __name__ == "__main__":
    main()
