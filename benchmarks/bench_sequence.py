"""Per-sequence maps: do they find the deciding step, and how long does one sequence take? (by hand)

    python benchmarks/bench_sequence.py --seeds 5

On ``wmax(x1, 5) > 0.9`` (seq_len 12, the default recipe), for each seed: train, then for the
first ``--sequences`` scored sequences compute the per-sequence perturbation map
(:mod:`rnnviz.attr.sequence`, sigma and repeats of the config) and, for every counted output
whose target is 1, ask where its largest |effect| sits:

* on a window step where x1 exceeds 0.9 (the evidence; goal: >= 90% of those outputs), and
* on the step where the window's maximum sits (the deciding cell of ``deciding_cells``).

The global perturbation map cannot do this: averaged over sequences it is flat across the
window. Then the time of one sequence, every method with that grain (median of ``--timings``
runs after one warm-up; goal <= 0.5 s), beside the global perturbation scoring of the config's
250 scored sequences.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone: rnnviz is here

from rnnviz.attr.sequence import (
    SEQUENCE_METHODS,
    params_from_config,
    sequence_attribution,
    sequence_attributions,
)
from rnnviz.config import Config
from rnnviz.data.truth import deciding_cells
from rnnviz.experiment import explain, method_context
from rnnviz.training.fit import train

RULE, WINDOW, LEVEL = "wmax(x1, 5) > 0.9", 5, 0.9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--sequences", type=int, default=60, help="scored sequences per seed")
    ap.add_argument("--timings", type=int, default=5)
    args = ap.parse_args()
    total_hits = total_max = total = 0
    one_times, global_times = [], []
    for seed in range(args.seeds):
        config = Config(rule=RULE, seq_len=12, seed=seed)
        result = train(config)
        ctx = method_context(result, config)
        rule = config.target()
        params = params_from_config(config)["perturbation"]
        hits = on_max = outputs = 0
        for i in range(min(args.sequences, ctx.n)):
            positive = np.flatnonzero(ctx.output_mask[i] & (ctx.y[i] > 0.5))
            if positive.size == 0:
                continue
            attr = sequence_attribution(ctx, i, "perturbation", **params)
            x1 = ctx.x[i, :, 0]
            for t in positive:
                size = np.abs(attr.at(int(t)).effect)
                f, s = np.unravel_index(int(np.argmax(size)), size.shape)
                window = range(t - WINDOW + 1, t + 1)
                hits += bool(f == 0 and s in window and x1[s] > LEVEL)
                decides = deciding_cells(rule, ctx.x[i], int(t))
                on_max += bool(decides is not None and decides[f, s])
                outputs += 1
        total_hits, total_max, total = total_hits + hits, total_max + on_max, total + outputs
        # one sequence, every method (the first run traces the gradient functions)
        all_params = params_from_config(config)
        sequence_attributions(ctx, 0, SEQUENCE_METHODS, params=all_params)
        runs = []
        for k in range(args.timings):
            start = time.perf_counter()
            sequence_attributions(ctx, 1 + k, SEQUENCE_METHODS, params=all_params)
            runs.append(time.perf_counter() - start)
        one_times.append(statistics.median(runs))
        start = time.perf_counter()
        explain(result, config)
        global_times.append(time.perf_counter() - start)
        print(
            f"seed {seed}: {result.grade} (val accuracy {result.val_accuracy:.3f}); "
            f"{outputs} positive outputs: largest effect on a step with x1 > {LEVEL}: "
            f"{hits / max(outputs, 1):.1%}, on the window's max: {on_max / max(outputs, 1):.1%}; "
            f"one sequence, all methods {one_times[-1]:.3f} s; global scoring of "
            f"{config.n_score} sequences {global_times[-1]:.2f} s",
            flush=True,
        )
    print(
        f"all seeds: {total} positive outputs; largest effect on a step with x1 > {LEVEL}: "
        f"{total_hits / max(total, 1):.1%} (goal >= 90%), on the window's max "
        f"{total_max / max(total, 1):.1%}; one sequence, all methods: median "
        f"{statistics.median(one_times):.3f} s (goal <= 0.5 s); global scoring: median "
        f"{statistics.median(global_times):.2f} s"
    )


if __name__ == "__main__":
    main()
