"""Which presets make a sure model? The saturation check on every preset's trained model.

    python benchmarks/bench_saturation.py                 # every classification preset
    python benchmarks/bench_saturation.py default reference

Trains each preset (``rnnviz.config.PRESETS``, its own recipe and seed), scores it with the
default knobs (effects on the probability) and prints, per preset: the share of the counted
outputs within 0.001 of 0 or 1, the largest per-step effect on the probability, whether the
check calls it saturated (the pages and the CLI then warn), and the largest per-step effect on
the log-odds for comparison. A regression preset is listed as not applicable.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone: rnnviz is here

from rnnviz.attr.saturation import largest_effect  # noqa: E402
from rnnviz.config import PRESETS  # noqa: E402
from rnnviz.experiment import explain, saturation  # noqa: E402
from rnnviz.training.fit import train  # noqa: E402


def main(names: list[str]) -> None:
    names = names or list(PRESETS)
    print(f"{'preset':<18} {'near 0/1':>9} {'largest p':>10} {'largest z':>10} {'saturated':>9} s")
    for name in names:
        config = PRESETS[name]
        start = time.perf_counter()
        result = train(config)
        scores = explain(result, config)
        check = saturation(result, config, scores)
        if not check.applies:
            print(f"{name:<18} {'not applicable (regression)':>41}")
            continue
        logit = config.replace(effect_on="log-odds")
        z = largest_effect(explain(result, logit))
        seconds = time.perf_counter() - start
        print(
            f"{name:<18} {check.share:9.1%} {check.largest_effect:10.2e} {z:10.2e} "
            f"{'yes' if check.saturated else 'no':>9} {seconds:.0f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
