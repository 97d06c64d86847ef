"""One experiment end to end: config -> data -> trained model -> perturbation scores.

The CLI, the Python API and the dashboard all go through these functions, so every surface
shows the same numbers for the same config and seed.
"""

from __future__ import annotations

from rnnviz.config import Config
from rnnviz.data import make_split
from rnnviz.result import ProgressFn, TrainResult
from rnnviz.scoring import PerturbationResult, perturbation_importance


def explain(result: TrainResult, config: Config | None = None) -> PerturbationResult:
    """Perturbation scores of a trained model, with the scoring knobs of ``config``.

    ``config`` may differ from the training config in sigma, n_repeats and n_score only, so a
    new noise scale never needs a new model. Only outputs whose target is defined count (the
    score split's ``valid``): where the rule's lag or window reaches before t = 0 the model was
    never trained, and its outputs there are no evidence of anything.
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
        valid=data.valid,
    )


def run(
    config: Config, progress: ProgressFn | None = None
) -> tuple[TrainResult, PerturbationResult]:
    """Train the model of ``config`` and score it."""
    from rnnviz.model import train  # TensorFlow: imported when a training is asked for

    result = train(config, progress)
    return result, explain(result, config)


def method_context(result: TrainResult, config: Config | None = None):
    """The methods' Context for a trained model: its predictor, model and score split."""
    from rnnviz.methods import Context

    config = config or result.config
    data = make_split(config, "score")
    return Context(
        predict=result.predict,
        x=data.x,
        y=data.y,
        valid=data.valid,
        model=result.model,
        seed=config.seed,
    )


# Every method that needs no retraining; stepwise elimination trains F more models.
FAST_METHODS = (
    "perturbation",
    "ablation",
    "permutation",
    "saliency",
    "integrated_gradients",
    "connection_weights",
    "garson",
    "lek",
)


# The methods the Compare page opens with (random scores are always added): one of each kind
# that answers on its own (noise, shuffling, gradients) and the thread's weight method as the
# contrast. The others are one click away.
FIRST_METHODS = ("perturbation", "permutation", "saliency", "connection_weights")

# The experiment the Compare page leads with when the session's is the default one. On the
# default rule (x1 and x2 at the current step, 3 features) every method ranks x1 and x2 first,
# and random scores do so 1 time in 3, so the comparison teaches little. This rule reads x1
# two steps back: its effect reaches y_t only through the LSTM's memory, which weight methods
# do not read. Seed 7 is a model on which they go wrong (bench_methods.py, 10 seeds of this
# rule: connection weights rank x1 first on 7, perturbation, permutation and saliency on all
# 10); the page's readings come from the model's own numbers, never from this comment.
DISAGREEMENT_EXAMPLE = Config(rule="lagged", seed=7)


def compare_methods(
    result: TrainResult,
    config: Config | None = None,
    methods=FAST_METHODS,
    params=None,
    progress: ProgressFn | None = None,
):
    """Run ``methods`` on one trained model and score them against the rule's ground truth.

    The perturbation method uses the config's sigma and repeats unless ``params`` says
    otherwise; ``stepwise`` gets a trainer for this config (with ``progress``) that takes
    ``result`` as the training with all features, so it trains F models, not F + 1.
    """
    from rnnviz.methods import compare, make_stepwise_trainer

    config = config or result.config
    params = {k: dict(v) for k, v in (params or {}).items() if k in methods}
    if "perturbation" in methods:
        params.setdefault("perturbation", {})
        params["perturbation"].setdefault("sigma", config.sigma)
        params["perturbation"].setdefault("n_repeats", config.n_repeats)
    if "stepwise" in methods:
        params.setdefault("stepwise", {})["train_fn"] = make_stepwise_trainer(
            config, progress, full=result
        )
    return compare(method_context(result, config), methods, params, truth=config.target())
