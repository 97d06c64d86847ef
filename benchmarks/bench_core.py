"""Core benchmark (run by hand, not a test): batched scoring vs a loop of predict, and training.

    python benchmarks/bench_core.py            # full run, a few minutes on 2 cores
    python benchmarks/bench_core.py --seeds 3  # fewer seeds for the learn-rate check

Prints figures measured side by side in this one run:
1. the full perturbation map (per feature + every feature x step, one repeat) of one trained
   model through rnnviz's batched scoring, against one ``model.predict`` call per perturbed
   copy (the thread's way); target ratio >= 30x;
2. the default recipe against the thread's reference recipe: time and validation loss on the
   reference seed (target: <= 1/7 of the time at equal or lower validation loss);
3. how many of N seeds the default recipe learns on (target: >= 9 of 10).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone: rnnviz is here

from rnnviz.config import PRESETS, Config
from rnnviz.data import make_split
from rnnviz.model import train
from rnnviz.scoring import perturbation_importance


def best_of(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def loop_of_predict(model, x: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """The thread's approach extended to the full map: one model.predict per perturbed copy."""
    rng = np.random.default_rng(seed)
    n, steps, feats = x.shape
    base = model.predict(x, verbose=0)
    out = []
    for f in range(feats):
        for s in [None, *range(steps)]:
            new = x.copy()
            if s is None:
                new[:, :, f] += rng.normal(0, sigma, (n, steps))
            else:
                new[:, s, f] += rng.normal(0, sigma, n)
            out.append(np.sqrt(((model.predict(new, verbose=0) - base) ** 2).mean()))
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()

    print("1. Full perturbation map on one trained model (T=10, F=3, 250 sequences, 1 repeat)")
    cfg = Config(seed=2019)
    result = train(cfg)
    x = make_split(cfg, "score").x
    batched = best_of(lambda: perturbation_importance(result.predict, x, n_repeats=1))
    looped = best_of(lambda: loop_of_predict(result.model, x, cfg.sigma, 0), n=1)
    print(f"   batched rnnviz scoring : {batched * 1000:8.1f} ms  (1 + 33 copies in one call)")
    print(f"   loop of model.predict  : {looped * 1000:8.1f} ms  (34 predict calls)")
    print(f"   ratio                  : {looped / batched:8.1f} x   (target >= 30x)")

    print("\n2. Training: the thread's reference recipe vs the default recipe, seed 2019")
    ref_cfg = PRESETS["reference"]
    ref = train(ref_cfg)
    default = train(Config(seed=ref_cfg.seed))
    for name, r in (("reference", ref), ("default", default)):
        print(
            f"   {name:9}: {r.seconds:6.2f} s  val loss {r.val_loss:.4f}  "
            f"accuracy {r.val_accuracy:.3f}  learned={r.learned}"
        )
    print(
        f"   time ratio reference/default: {ref.seconds / default.seconds:.1f} x (target >= 7x); "
        f"default val loss {'<=' if default.val_loss <= ref.val_loss else '>'} reference"
    )

    print(f"\n3. Default recipe over seeds 0..{args.seeds - 1} (reference rule)")
    learned, seconds = 0, []
    for seed in range(args.seeds):
        r = train(Config(seed=seed))
        learned += r.learned
        seconds.append(r.seconds)
        print(f"   seed {seed}: {r.seconds:5.2f} s  val loss {r.val_loss:.4f}  learned={r.learned}")
    print(f"   learned on {learned} of {args.seeds} seeds; median {np.median(seconds):.2f} s")


if __name__ == "__main__":
    main()
