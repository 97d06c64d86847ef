"""Core benchmark (run by hand, not a test): batched scoring vs a loop of predict, and training.

    python benchmarks/bench_core.py            # full run, a few minutes on 2 cores
    python benchmarks/bench_core.py --seeds 3  # fewer seeds for the learn-rate check
    python benchmarks/bench_core.py --only floor --pairs 30   # figure 4 alone (~1 min)

Prints figures measured side by side in this one run:
1. the full perturbation map (per feature + every feature x step, one repeat) of one trained
   model through rnnviz's batched scoring, against one ``model.predict`` call per perturbed
   copy (the thread's way); target ratio >= 30x;
2. the default recipe against the thread's reference recipe: time and validation loss on the
   reference seed (target: <= 1/7 of the time at equal or lower validation loss);
3. how many of N seeds the default recipe learns on (target: >= 9 of 10);
4. scoring against its floor: the per-feature + full per-step map with one repeat of the default
   config's trained model through ``explain``, against ONE warm ``tf.function`` call of the same
   model over the same number of copies (1 + F + F x T copies of the score split). The two are
   timed in alternation, pair after pair, so load from other processes hits both alike; the
   median of the pairs' ratios is the figure (target <= 1.5x), their spread says how noisy the
   machine was.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone: rnnviz is here

from rnnviz.attr.scoring import perturbation_importance
from rnnviz.config import PRESETS, Config
from rnnviz.data.split import make_split
from rnnviz.experiment import explain
from rnnviz.training.fit import train


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


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def scoring_against_floor(pairs: int) -> None:
    """Figure 4: one repeat of the full map through ``explain`` against one warm forward call."""
    import tensorflow as tf

    cfg = Config()
    result = train(cfg)
    model, x = result.model, make_split(cfg, "score").x
    n, steps, feats = x.shape
    copies = 1 + feats + feats * steps  # the unperturbed sample, each feature, each (feature, step)
    rows = copies * n
    print(
        f"4. Scoring vs one warm forward call (default config: T={steps}, F={feats}, "
        f"{n} sequences, {copies} copies = {rows:,} rows, 1 repeat)"
    )
    floor_fn = tf.function(
        lambda a: model(a, training=False),
        input_signature=[tf.TensorSpec((rows, steps, feats), tf.float32)],
    )
    stacked = np.repeat(x[None], copies, axis=0).reshape(rows, steps, feats)
    one = cfg.replace(n_repeats=1)

    def floor() -> None:
        floor_fn(tf.constant(stacked)).numpy()

    def scoring() -> None:
        explain(result, one)

    for _ in range(2):  # warm both: traces, kernels, allocator
        floor()
        scoring()
    floors, scorings = [], []
    for i in range(pairs):  # alternate which goes first, so a drift in load hits both alike
        if i % 2:
            scorings.append(timed(scoring))
            floors.append(timed(floor))
        else:
            floors.append(timed(floor))
            scorings.append(timed(scoring))
    f_ms, s_ms = np.array(floors) * 1e3, np.array(scorings) * 1e3
    ratio = s_ms / f_ms
    lo, med, hi = np.percentile(ratio, [10, 50, 90])
    print(f"   one warm tf.function call : median {np.median(f_ms):7.1f} ms  min {f_ms.min():7.1f}")
    print(f"   explain, 1 repeat         : median {np.median(s_ms):7.1f} ms  min {s_ms.min():7.1f}")
    print(
        f"   ratio, {pairs} pairs         : median {med:.2f} x  (10th-90th percentile "
        f"{lo:.2f}-{hi:.2f}; ratio of minima {s_ms.min() / f_ms.min():.2f})  (target <= 1.5x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--only", choices=["floor"], help="run one figure alone: floor = figure 4")
    ap.add_argument("--pairs", type=int, default=20, help="timed pairs of figure 4")
    args = ap.parse_args()
    if args.only == "floor":
        scoring_against_floor(args.pairs)
        return

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
    print()
    scoring_against_floor(args.pairs)


if __name__ == "__main__":
    main()
