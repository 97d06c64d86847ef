"""Methods benchmark (run by hand): every method on the reference configuration, timed, and
their ground-truth scores over several seeds of the reference and the lagged rules.

    python benchmarks/bench_methods.py                # 10 seeds, ~3 minutes on 2 cores
    python benchmarks/bench_methods.py --stepwise     # also backward elimination (F trainings)

Prints, per rule and method: mean time, mean feature ROC AUC, how many seeds ranked every true
feature above every irrelevant one (AUC = 1), and the mean lag-level AUP, AUR and AUPR.
The default method (perturbation) must reach AUC = 1 on >= 9 of 10 seeds.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from rnnviz.config import Config
from rnnviz.experiment import FAST_METHODS, compare_methods
from rnnviz.model import train


def fmt(values: list) -> str:
    vals = [v for v in values if v is not None and not np.isnan(v)]
    return f"{np.mean(vals):6.3f}" if vals else "     -"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--stepwise", action="store_true")
    args = ap.parse_args()
    methods = (*FAST_METHODS, "sigma_sweep", "tsr:perturbation") + (
        ("stepwise",) if args.stepwise else ()
    )
    for rule in ("reference", "lagged"):
        rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        learned = 0
        for seed in range(args.seeds):
            cfg = Config(rule=rule, seed=seed)
            result = train(cfg)
            learned += result.learned
            comp = compare_methods(result, cfg, methods)
            for row in comp.rows():
                for key in ("seconds", "feature_auc", "aup", "aur", "aupr"):
                    rows[row["method"]][key].append(row.get(key))
        print(
            f"\nrule {rule!r}: {Config(rule=rule).target().expression}; model learned on "
            f"{learned} of {args.seeds} seeds"
        )
        print(
            f"{'method':22} {'time s':>7} {'AUC':>6} {'AUC=1':>6} {'AUP':>6} {'AUR':>6} {'AUPR':>6}"
        )
        for name, r in rows.items():
            perfect = sum(1 for v in r["feature_auc"] if v is not None and v >= 1.0)
            print(
                f"{name:22} {np.mean(r['seconds']):7.3f} {fmt(r['feature_auc'])} "
                f"{perfect:>3}/{args.seeds:<2} {fmt(r['aup'])} {fmt(r['aur'])} {fmt(r['aupr'])}"
            )


if __name__ == "__main__":
    main()
