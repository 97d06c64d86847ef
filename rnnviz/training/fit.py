"""Fit and evaluate: train the model of a Config on its seeded data and judge it.

A training borrows a compiled trainer of its shapes (:mod:`rnnviz.training.feeding`), loads the
seeded initial weights of :func:`rnnviz.training.model.build_model` into it, fits with the
snapshot capture (:mod:`rnnviz.training.capture`) and copies the trained weights out. The
result is a frozen :class:`rnnviz.training.result.TrainResult`; saving and loading it is
:mod:`rnnviz.training.saving`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from rnnviz.config import Config  # noqa: E402
from rnnviz.data.split import Dataset, check_balance, make_split, target_scale  # noqa: E402
from rnnviz.metrics import accuracy, cross_entropy, mse, r2_against  # noqa: E402
from rnnviz.training.capture import Capture, SnapshotCallback  # noqa: E402
from rnnviz.training.feeding import (  # noqa: E402
    STEPS_PER_EXECUTION,
    TRAINERS,
    ProgressCallback,
    Shuffled,
)
from rnnviz.training.handle import ModelHandle  # noqa: E402
from rnnviz.training.model import build_model  # noqa: E402
from rnnviz.training.predictor import inference_key  # noqa: E402
from rnnviz.training.result import ProgressFn, TrainResult  # noqa: E402
from rnnviz.training.snapshots import Snapshot  # noqa: E402


def _compiled_trainer(config: Config) -> keras.Model:
    trainer = build_model(config)
    trainer.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="binary_crossentropy" if config.task == "classification" else "mean_squared_error",
        jit_compile=False,  # XLA compile time is longer than this whole training
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    Capture.install(trainer)
    return trainer


def _reset(trainer: keras.Model, model: keras.Model, learning_rate: float) -> None:
    """Give ``trainer`` the initial weights of ``model`` and a fresh optimiser state."""
    trainer.set_weights(model.get_weights())
    optimizer = trainer.optimizer
    for v in optimizer.variables:
        if v.path.endswith("learning_rate"):
            v.assign(learning_rate)
        else:
            v.assign(np.zeros(v.shape, dtype=v.dtype))


def train(
    config: Config,
    progress: ProgressFn | None = None,
    train_data: Dataset | None = None,
    val_data: Dataset | None = None,
    *,
    snapshots: bool = True,
) -> TrainResult:
    """Train the model of ``config`` on its seeded data (or the arrays given) and judge it.

    Steps where the rule is undefined (``valid`` false) carry zero weight in the loss.
    Raises DataError when the labels are (almost) one class (classification only). With
    ``snapshots`` the result carries what the network relied on at evenly spaced steps
    (``rnnviz.training.snapshots``; the weights are the same either way) and each progress
    report the newest one.
    """
    train_data = train_data or make_split(config, "train")
    val_data = val_data or make_split(config, "val")
    if config.task == "classification":
        check_balance(train_data)
    return _fit(config, train_data, val_data, progress, snapshots)


def _fit(
    config: Config,
    train_data: Dataset,
    val_data: Dataset,
    progress: ProgressFn | None,
    snapshots: bool = True,
) -> TrainResult:
    model = build_model(config)  # the result: seeded initial weights, trained weights copied in
    scale = target_scale(config)  # regression: (std, mean) of the target on the training split
    batch = min(config.batch_size, len(train_data.x))
    key = (inference_key(model), batch, len(val_data.x))  # same shapes: same compiled steps
    trainer = TRAINERS.take(key) or _compiled_trainer(config)
    _reset(trainer, model, config.learning_rate)
    steps = len(train_data.x) // batch
    callbacks: list[keras.callbacks.Callback] = []
    recorder = None
    if snapshots:  # first: it sees the last step's weights before early stopping restores any
        recorder = SnapshotCallback(model, trainer, config, val_data, steps)
        callbacks.append(recorder)
    if config.patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=config.patience, restore_best_weights=True)
        )
    if progress is not None:
        latest = recorder.latest if recorder is not None else (lambda: None)
        callbacks.append(ProgressCallback(progress, config.epochs, steps, latest))
    start = time.perf_counter()
    taken: tuple[Snapshot, ...] = ()
    try:
        hist = trainer.fit(
            Shuffled(train_data, batch, config.seed),
            validation_data=(val_data.x, val_data.y[..., None], val_data.valid.astype(np.float32)),
            validation_batch_size=len(val_data.x),  # one fixed-shape batch
            epochs=config.epochs,
            shuffle=False,  # Shuffled orders each epoch; fit's own shuffle reads global state
            verbose=0,
            callbacks=callbacks,
        )
        model.set_weights(trainer.get_weights())
        if recorder is not None:
            taken = recorder.finish()
    finally:
        if recorder is not None:
            recorder.close()
        TRAINERS.give(key, trainer)
    seconds = time.perf_counter() - start
    handle = ModelHandle(model)
    val_loss, val_accuracy = evaluate(
        handle.predictor(), val_data, None if scale is None else scale[1]
    )
    return TrainResult(
        config=config,
        history={k: [float(v) for v in vals] for k, vals in hist.history.items()},
        val_loss=val_loss,
        val_accuracy=val_accuracy,
        baseline_accuracy=val_data.majority_accuracy if scale is None else 0.0,
        seconds=seconds,
        epochs_run=len(hist.history["loss"]),
        snapshots=taken,
        handle=handle,
    )


def evaluate(
    predict: Callable[[np.ndarray], np.ndarray], data: Dataset, regression_mean: float | None = None
) -> tuple[float, float]:
    """Binary cross-entropy and accuracy of ``predict`` on the valid steps of ``data``.

    With ``regression_mean`` (the training split's mean target): mean squared error and R²
    against always predicting that mean (1 - MSE / the mean's MSE), which the verdict grades as
    it grades an accuracy against a baseline of 0.
    """
    pred = predict(data.x)[data.valid]
    y = data.y[data.valid]
    if regression_mean is not None:
        return mse(y, pred), r2_against(y, pred, regression_mean)
    return cross_entropy(pred, y), accuracy(pred, y)
