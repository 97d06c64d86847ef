"""The recurrent model of a Config: its layers, its seeded initial weights, its head.

Default recipe (``Config()``), chosen by measurement on 2 CPU cores: tanh LSTMs 10 -> 5, a
per-step Dense sigmoid head, inputs mapped from [0, 1) to [-1, 1) inside the model, Adam with
learning rate 0.03, batch 128, 3 epochs over 3,000 sequences, early stopping on validation loss.
It learns every preset rule on 10 of 10 seeds in about 0.7 s of fitting once a model of the same
shapes was trained in the process (``benchmarks/bench_recipe.py``); the recipe before it (4
epochs over 4,000 sequences, Adam 0.02) took 1.1 s for the same grades. ``PRESETS["reference"]``
keeps the Cross Validated thread's model and recipe (relu LSTMs, LSTM sigmoid head, batch 5,
Adam 1e-3), which is ~20x slower and fails to learn on some seeds.

Training is :mod:`rnnviz.training.fit`; predictions :mod:`rnnviz.training.predictor`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from rnnviz.config import Config  # noqa: E402
from rnnviz.data.split import target_scale  # noqa: E402


def _seeds(config: Config, n: int) -> list[int]:
    """``n`` independent seeds derived from ``config.seed`` (for initialisers and shuffling)."""
    state = np.random.SeedSequence([config.seed, _INIT_STREAM]).generate_state(n)
    return [int(s) for s in state]


_INIT_STREAM = 7  # separates the initialisers' seeds from the data splits' streams


_CELL_LAYERS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
    "bilstm": keras.layers.LSTM,  # one per direction, wrapped in Bidirectional
}


def build_model(config: Config) -> keras.Model:
    """The stacked recurrent model of ``config``: one sigmoid output per step, shape (n, T, 1).

    ``config.cell`` picks the layers: LSTM, GRU, SimpleRNN, or a bidirectional LSTM (a forward
    and a backward LSTM of ``units`` each, outputs concatenated). Every initialiser gets an
    explicit seed derived from ``config.seed``, so the initial weights depend on the config
    alone: no process-wide random state (Python's ``random``, which Keras's unseeded
    initialisers read, or TensorFlow's global seed) is read or set, and another thread building
    models meanwhile changes nothing. An LSTM model draws exactly the seeds it drew before
    the other cells existed (same weights, same cached results); the backward direction of a
    bidirectional layer has seeds of its own (a copied layer would start as the forward one).

    A regression task (``config.task``) has a linear head instead, followed by a fixed
    rescaling to the target's units (the training split's std and mean), so predictions,
    the loss and every perturbation effect are in those units (e.g. °C).
    """
    directions = 2 if config.cell == "bilstm" else 1
    seeds = iter(_seeds(config, 3 * (directions * len(config.units) + 1)))
    layer_class = _CELL_LAYERS[config.cell]

    def recurrent(
        units: int, activation: str, name: str, kind=keras.layers.LSTM, go_backwards=False
    ) -> keras.layers.RNN:
        return kind(
            units,
            activation=activation,
            return_sequences=True,
            go_backwards=go_backwards,
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
            recurrent_initializer=keras.initializers.Orthogonal(seed=next(seeds)),
            seed=next(seeds),  # dropout's generator (unused at dropout 0, but never unseeded)
            name=name,
        )

    inputs = keras.Input((config.seq_len, config.n_features), name="x")
    h = inputs
    if config.input_scaling:
        h = keras.layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(h)
    for i, (units, act) in enumerate(zip(config.units, config.activations, strict=True)):
        name = f"{config.cell}_{i + 1}"
        if config.cell == "bilstm":
            forward = recurrent(units, act, f"{name}_forward", layer_class)
            backward = recurrent(units, act, f"{name}_backward", layer_class, go_backwards=True)
            h = keras.layers.Bidirectional(forward, backward_layer=backward, name=name)(h)
        else:
            h = recurrent(units, act, name, layer_class)(h)
    scale = target_scale(config)
    head_activation = "sigmoid" if scale is None else "linear"
    if config.head == "lstm":
        out = recurrent(1, head_activation, "head")(h)
    else:
        out = keras.layers.Dense(
            1,
            activation=head_activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
            name="head",
        )(h)
    if scale is not None:
        out = keras.layers.Rescaling(scale[0], offset=scale[1], name="to_target_units")(out)
    name = "rnnviz_lstm" if config.cell == "lstm" else f"rnnviz_{config.cell}"
    return keras.Model(inputs, out, name=name)
