"""Faithfulness on planted evidence (run by hand): does each method's feature x step map find
the box? The three boxes of Ismail et al. (2020) (``rnnviz.data.boxes``) x methods x seeds:
one model per box and seed (the box preset), every method run on the first ``--n`` scored
sequences, and each cell map's ROC AUC against the box (0.5 is chance, 1 every box cell above
every other cell). Prints a table: per box and method, the median over seeds and the spread
(lowest-highest), then each box's training time and accuracy.

Then the deletion curves (``rnnviz.attr.faithfulness``, cells removed in each map's order, to
the feature's mean): the share of cells removed before accuracy falls to within 0.1 of its
value with every cell removed, as a multiple of the box's share of cells (median over seeds),
against the same for a random order (the mean of 3).

    python benchmarks/bench_faithfulness.py                 # 3 boxes x 3 seeds, 50 sequences
    python benchmarks/bench_faithfulness.py --seeds 1 --n 20 --boxes raretime   # a quick look

Methods: input perturbation (one cell at a time, N(0, σ)), ablation (one cell at a time to
the feature's mean), saliency (|dy/dx|), integrated gradients (from zero), group occlusion over
windows of all features (``--window`` steps, side by side) and over tiles of ``--block``
features x ``--window`` steps, and the random map (chance). The model is the preset's: an
LSTM of 20 units trained to 100% on the last output, so sure that one cell moves its output
by almost nothing (the box is redundant: a few hundred cells say the same thing).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from rnnviz.attr.faithfulness import curve_scores  # noqa: E402
from rnnviz.attr.methods import Context  # noqa: E402
from rnnviz.attr.registry import resolve  # noqa: E402
from rnnviz.config import BOX_NAMES, PRESETS  # noqa: E402
from rnnviz.data.source import source_of  # noqa: E402
from rnnviz.data.truth import map_auc  # noqa: E402
from rnnviz.training.fit import train  # noqa: E402

FOUND_MARGIN = 0.1


def methods(window: int, block: int) -> dict[str, tuple[str, dict]]:
    """Row label -> (registry name, parameters)."""
    return {
        "perturbation": ("perturbation", {"sigma": 0.2, "n_repeats": 1}),
        "ablation": ("ablation", {"baseline": "mean"}),
        "saliency": ("saliency", {}),
        "integrated gradients": ("integrated_gradients", {"baseline": "zero"}),
        f"group: windows of {window}": ("group", {"grouping": "window", "window": window}),
        f"group: sliding {window + 1}": (
            "group",
            {"grouping": "window", "window": window + 1, "overlap": "sliding"},
        ),
        f"group: tiles {block}x{window}": (
            "group",
            {"grouping": "tile", "window": window, "block": block},
        ),
        "random": ("random", {}),
    }


def run(boxes: list[str], seeds: list[int], n: int, window: int, block: int) -> None:
    rows = methods(window, block)
    auc: dict[tuple[str, str], list[float]] = {}
    secs: dict[tuple[str, str], list[float]] = {}
    trained: dict[str, list[str]] = {}
    found: dict[tuple[str, str], list[float]] = {}  # deletion: share to "found", / box share
    for box in boxes:
        for seed in seeds:
            config = PRESETS[f"box-{box}"].replace(seed=seed)
            start = time.perf_counter()
            result = train(config)
            took = time.perf_counter() - start
            trained.setdefault(box, []).append(f"{result.val_accuracy:.0%} in {took:.0f} s")
            source = source_of(config)
            data = source.split("score")
            ctx = Context(
                predict=result.predict,
                x=data.x[:n],
                y=data.y[:n],
                valid=data.valid[:n],
                model=result.model,
                seed=seed,
            )
            mask = source.truth.mask
            attributions = {}
            for label, (name, params) in rows.items():
                call = resolve(name, ctx, params)
                start = time.perf_counter()
                attribution = call()
                secs.setdefault((box, label), []).append(time.perf_counter() - start)
                attributions[label] = attribution
                value = map_auc(attribution.cell_mean, mask)
                auc.setdefault((box, label), []).append(np.nan if value is None else value)
                print(f"  {box:12s} seed {seed}  {label:24s} AUROC {value:.3f}", flush=True)
            curves = curve_scores(result.predict, ctx.x, ctx.y, ctx.valid, attributions, seed=seed)
            box_share = float(mask.mean())
            for label, c in curves.items():
                reach = _reach(c.deletion, c.shares, c.empty + FOUND_MARGIN)
                found.setdefault((box, label), []).append(reach / box_share)
            c = next(iter(curves.values()))  # every map here is per cell: one random reference
            reach = _reach(c.reference("deletion"), c.shares, c.empty + FOUND_MARGIN)
            found.setdefault((box, "random order"), []).append(reach / box_share)
    print()
    print(f"AUROC of the feature x step map against the box ({len(seeds)} seeds, {n} sequences)")
    width = max(len(label) for label in rows)
    header = f"{'method':{width}s}" + "".join(f" | {box:>22s}" for box in boxes) + " | seconds"
    print(header)
    print("-" * len(header))
    for label in rows:
        cells = []
        for box in boxes:
            values = np.array(auc[(box, label)])
            cells.append(
                f"{np.median(values):.2f} ({values.min():.2f}–{values.max():.2f})".rjust(22)
            )
        seconds = np.median([s for box in boxes for s in secs[(box, label)]])
        print(f"{label:{width}s}" + "".join(f" | {c}" for c in cells) + f" | {seconds:7.1f}")
    print()
    print(
        f"Deletion: cells removed before accuracy is within {FOUND_MARGIN} of its value with "
        "every cell removed, in multiples of the box's share (median, range)"
    )
    print(header.replace(" | seconds", ""))
    print("-" * len(header))
    for label in [*rows, "random order"]:
        cells = []
        for box in boxes:
            values = np.array(found[(box, label)])
            cells.append(
                f"{np.median(values):.1f}x ({values.min():.1f}–{values.max():.1f})".rjust(22)
            )
        print(f"{label:{width}s}" + "".join(f" | {c}" for c in cells))
    print()
    for box in boxes:
        print(f"{box}: trained to {', '.join(trained[box])}")


def _reach(curve: np.ndarray, shares: np.ndarray, level: float) -> float:
    """The first share of cells removed at which ``curve`` is at or below ``level`` (1 if
    never before the end)."""
    hit = np.flatnonzero(np.asarray(curve) <= level)
    return float(shares[hit[0]]) if hit.size else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boxes", default=",".join(BOX_NAMES), help="comma-separated boxes")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--n", type=int, default=50, help="sequences explained (default 50)")
    parser.add_argument("--window", type=int, default=5, help="group window, steps (default 5)")
    parser.add_argument("--block", type=int, default=5, help="tile block, features (default 5)")
    args = parser.parse_args(argv)
    boxes = [b.strip() for b in args.boxes.split(",") if b.strip()]
    unknown = sorted(set(boxes) - set(BOX_NAMES))
    if unknown:
        parser.error(f"unknown box(es) {', '.join(unknown)}; known: {', '.join(BOX_NAMES)}")
    start = time.perf_counter()
    run(boxes, list(range(args.seeds)), args.n, args.window, args.block)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
