"""One experiment end to end: config -> data -> trained model -> scores, and the methods' runs
that need the experiment (the comparison on a trained model, stepwise retraining).

The CLI, the Python API and the dashboard all go through these functions, so every surface
shows the same numbers for the same config and seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rnnviz.attr.scoring import PerturbationResult, perturbation_importance
from rnnviz.config import Config
from rnnviz.data.base import Dataset
from rnnviz.data.source import source_of
from rnnviz.data.split import make_split
from rnnviz.training.result import ProgressFn, TrainResult

if TYPE_CHECKING:
    from rnnviz.attr.comparison import Comparison
    from rnnviz.attr.interactions import InteractionResult
    from rnnviz.attr.methods import Context

TrainFn = Callable[[tuple[int, ...]], float]


def explain(result: TrainResult, config: Config | None = None) -> PerturbationResult:
    """Perturbation scores of a trained model, with the scoring knobs of ``config``.

    ``config`` may differ from the training config in sigma, n_repeats and n_score only, so a
    new noise scale never needs a new model. Only outputs whose target is defined count (the
    score split's ``valid``): where the rule's lag or window reaches before t = 0 the model was
    never trained, and its outputs there are no evidence of anything. A real series' features
    carry their names (precipitation, temp_max, ...), a synthetic one's are x1..xF.
    """
    return _on_score_split(perturbation_importance, result, config, names_arg="feature_names")


def _score_split(result: TrainResult, config: Config | None) -> tuple[Config, Any]:
    """(config, its score split), once ``config`` is checked to differ from the training
    config in scoring knobs only."""
    config = config or result.config
    if config.training_key() != result.config.training_key():
        raise ValueError("config differs from the model's training config beyond scoring knobs")
    return config, make_split(config, "score")


def _on_score_split(measure, result: TrainResult, config: Config | None, names_arg: str):
    """``measure`` (perturbation or interaction importance) of ``result``'s model on the score
    split of ``config``: one seed, σ, repeats, sequences and counted outputs for every measure,
    the features' names passed as ``names_arg``."""
    config, data = _score_split(result, config)
    return measure(
        result.predict,
        data.x,
        sigma=config.sigma,
        n_repeats=config.n_repeats,
        seed=config.seed,
        valid=data.valid,
        **{names_arg: feature_names(config)},
    )


def explain_interactions(result: TrainResult, config: Config | None = None) -> InteractionResult:
    """Pairwise interactions (:mod:`rnnviz.attr.interactions`) of a trained model on its score
    split.

    Same seed, σ, repeats, sequences and counted outputs as :func:`explain`, so the singles
    equal the per-feature bars.
    """
    from rnnviz.attr.interactions import interaction_importance

    return _on_score_split(interaction_importance, result, config, names_arg="names")


def interactions_json(result: TrainResult, config: Config | None = None) -> dict | None:
    """The ``interactions`` entry of the CLI's ``--json``: the matrix, and the pairs the rule
    combines with where they meet (none for a real series: no rule); None for a single
    feature (no pair)."""
    from rnnviz.data.truth import interacting_pairs

    config = config or result.config
    if config.n_features < 2:
        return None
    out = explain_interactions(result, config).to_dict()
    rule, names = ground_truth(config), feature_names(config)
    pairs = {} if rule is None else interacting_pairs(rule)
    out["rule_pairs"] = [
        {"pair": [names[i], names[j]], "meet_in": node} for (i, j), node in pairs.items()
    ]
    return out


def feature_names(config: Config) -> tuple[str, ...]:
    """The names of ``config``'s input features: a real series' measurements, else x1..xF."""
    return source_of(config).feature_names


def ground_truth(config: Config) -> Any:
    """The rule of a synthetic experiment (its ground truth); None for a real series, which
    has none (nobody knows what tomorrow's weather depends on)."""
    return source_of(config).truth


def run(
    config: Config, progress: ProgressFn | None = None
) -> tuple[TrainResult, PerturbationResult]:
    """Train the model of ``config`` and score it."""
    from rnnviz.training.fit import train  # TensorFlow: imported when a training is asked for

    result = train(config, progress)
    return result, explain(result, config)


def method_context(result: TrainResult, config: Config | None = None) -> Context:
    """The methods' Context for a trained model: its predictor, model and score split."""
    from rnnviz.attr.methods import Context

    config = config or result.config
    data = make_split(config, "score")
    return Context(
        predict=result.predict,
        x=data.x,
        y=data.y if config.task == "classification" else None,  # the loss part is cross-entropy
        valid=data.valid,
        model=result.model,
        seed=config.seed,
        feature_names=feature_names(config),
    )


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
    methods: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressFn | None = None,
    curves: bool = True,
) -> Comparison:
    """Run ``methods`` (default: the registry's default set, every fast method) on one trained
    model and score them against the rule's ground truth (a real series has none: no truth
    scores, only the attributions and their agreement). ``curves``: each method's deletion and
    insertion curves too (:mod:`rnnviz.attr.faithfulness`: accuracy, or R² for a
    regression, on the score split as the method's most important cells are removed), which
    need no ground truth.

    Parameters a method takes from the experiment (``MethodSpec.from_config``: perturbation's
    sigma and repeats) come from ``config`` unless ``params`` says otherwise; a parameter of
    kind ``trainer`` (stepwise) gets a trainer for this config (with ``progress``) that takes
    ``result`` as the training with all features, so it trains F models, not F + 1.
    """
    from rnnviz.attr.comparison import compare
    from rnnviz.attr.registry import default_methods, spec_of

    config = config or result.config
    methods = default_methods() if methods is None else tuple(methods)
    params = {k: dict(v) for k, v in (params or {}).items() if k in methods}
    for name in methods:
        spec = spec_of(name)
        if spec.base is not None:
            continue  # its parameters are its base method's
        given = params.setdefault(name, {})
        for key, value in (spec.from_config(config) if spec.from_config else {}).items():
            given.setdefault(key, value)
        for p in spec.params:
            if p.kind == "trainer":
                given[p.name] = make_stepwise_trainer(config, progress, full=result)
        if not given:
            del params[name]
    ctx = method_context(result, config)
    labels = None
    if curves and ctx.y is None:  # a regression's context carries no labels: the split has them
        labels = make_split(config, "score").y
    return compare(
        ctx,
        methods,
        params,
        truth=ground_truth(config),
        curves=curves,
        labels=labels,
        task=config.task,
    )


def make_stepwise_trainer(
    config: Config, progress: ProgressFn | None = None, full: TrainResult | None = None
) -> TrainFn:
    """``train_fn(kept) -> validation loss`` for :func:`rnnviz.attr.methods.stepwise`, training
    ``config``'s model.

    Dropped features are overwritten with the constant 0.5 (0, the training mean, for a real
    series' standardised features) in the train and validation inputs (labels unchanged), so
    the input shape and the architecture stay the same. Results are cached per set of kept
    features; every training starts from ``config.seed``.

    ``full`` is the trained model of ``config`` (a ``TrainResult``): it *is* the training with
    all features (same data, seed and recipe), so its loss is computed instead of training it
    again (F trainings instead of F + 1). That loss is the one every training reports: binary
    cross-entropy (mean squared error for a regression) over the valid steps of the same
    validation split.
    """
    from rnnviz.training.fit import evaluate, train

    if full is not None and full.config.training_key() != config.training_key():
        raise ValueError("the full model was trained with another training config than this one")
    source = source_of(config)
    train_data, val_data = source.split("train"), source.split("val")
    # The source's neutral value of a feature: 0.5, the middle of a synthetic feature's [0, 1);
    # 0, the training mean, of a real series' standardised ones. A regression's loss is its MSE.
    fill = source.fill
    scale = source.target_scale()
    regression_mean = None if scale is None else scale[1]
    cache: dict[tuple[int, ...], float] = {}

    def train_fn(kept: tuple[int, ...]) -> float:
        kept = tuple(sorted({int(f) for f in kept}))
        if any(not 0 <= f < config.n_features for f in kept):
            raise ValueError(f"kept features {kept} are outside 0..{config.n_features - 1}")
        if kept not in cache:
            dropped = [f for f in range(config.n_features) if f not in kept]
            if full is not None and not dropped:
                cache[kept] = float(evaluate(full.predict, val_data, regression_mean)[0])
            else:
                result = train(
                    config,
                    progress,
                    train_data=_constant_columns(train_data, dropped, fill),
                    val_data=_constant_columns(val_data, dropped, fill),
                )
                cache[kept] = float(result.val_loss)
        return cache[kept]

    return train_fn


def _constant_columns(data: Dataset, columns: Sequence[int], value: float = 0.5) -> Dataset:
    x = data.x.copy()
    x[:, :, list(columns)] = value
    return Dataset(x=x, y=data.y, valid=data.valid)
