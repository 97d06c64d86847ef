"""One experiment end to end: config -> data -> trained model -> perturbation scores.

The CLI, the Python API and the dashboard all go through these functions, so every surface
shows the same numbers for the same config and seed.
"""

from __future__ import annotations

from rnnviz.config import Config
from rnnviz.data import make_split
from rnnviz.model import ProgressFn, TrainResult, train
from rnnviz.scoring import PerturbationResult, perturbation_importance


def explain(result: TrainResult, config: Config | None = None) -> PerturbationResult:
    """Perturbation scores of a trained model, with the scoring knobs of ``config``.

    ``config`` may differ from the training config in sigma, n_repeats and n_score only, so a
    new noise scale never needs a new model.
    """
    config = config or result.config
    if config.training_key() != result.config.training_key():
        raise ValueError("config differs from the model's training config beyond scoring knobs")
    data = make_split(config, "score")
    return perturbation_importance(
        result.predict,
        data.x,
        sigma=config.sigma,
        n_repeats=config.n_repeats,
        seed=config.seed,
    )


def run(
    config: Config, progress: ProgressFn | None = None
) -> tuple[TrainResult, PerturbationResult]:
    """Train the model of ``config`` and score it."""
    result = train(config, progress)
    return result, explain(result, config)
