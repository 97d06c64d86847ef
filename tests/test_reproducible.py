"""A training depends on its config alone: no process-wide random state is read.

Keras's unseeded initializers and ``fit``'s shuffle draw from process-wide state (Python's
``random``, TensorFlow's global seed). A visitor opening a cached experiment, an upload being
checked, or any thread calling ``random.random()`` while a training runs must not change the
model that training produces (and that the cache then serves to everyone).
"""

import random
import threading

import keras
import numpy as np

from rnnviz.config import Config
from rnnviz.training.fit import train

CFG = Config(rule="threshold", seed=105, n_train=2000, epochs=4)


def _weights(result) -> list[np.ndarray]:
    return [np.array(w) for w in result.model.get_weights()]


def _interfere(stop: threading.Event) -> None:
    while not stop.is_set():
        random.random()
        keras.layers.Dense(3).build((None, 4))


def test_training_under_interference_equals_the_solo_training_exactly():
    alone = train(CFG)
    stop = threading.Event()
    threads = [threading.Thread(target=_interfere, args=(stop,), daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        busy = train(CFG)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert alone.history == busy.history
    for a, b in zip(_weights(alone), _weights(busy), strict=True):
        np.testing.assert_array_equal(a, b)


def test_global_seeds_do_not_change_a_training():
    """Reseeding the process (as another library or session might) changes nothing."""
    keras.utils.set_random_seed(1)
    random.seed(1)
    a = train(CFG.replace(n_train=500, epochs=2))
    keras.utils.set_random_seed(999)
    random.seed(999)
    for _ in range(17):
        random.random()
    b = train(CFG.replace(n_train=500, epochs=2))
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_two_trainings_at_once_equal_each_trained_alone():
    """Once trainings are independent of global state they may run in parallel threads."""
    configs = [CFG.replace(n_train=800, epochs=2, seed=s) for s in (3, 4)]
    alone = [train(c) for c in configs]
    out: dict[int, object] = {}

    def run(i: int) -> None:
        out[i] = train(configs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        for a, b in zip(_weights(alone[i]), _weights(out[i]), strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_reused_compiled_trainer_gives_the_weights_of_a_fresh_one():
    """Trainings borrow compiled models of the same shapes; that must change no number."""
    from rnnviz.training.feeding import TRAINERS

    first, second = (
        CFG.replace(n_train=600, epochs=2, seed=7),
        CFG.replace(n_train=600, epochs=3, seed=8, learning_rate=0.01, rule="reference"),
    )
    TRAINERS.clear()
    fresh = train(second)
    train(first)  # leaves a compiled model of these shapes, trained, with its optimiser state
    reused = train(second)
    assert fresh.history == reused.history
    for a, b in zip(_weights(fresh), _weights(reused), strict=True):
        np.testing.assert_array_equal(a, b)


def test_models_of_one_architecture_share_a_trace_and_keep_their_own_predictions():
    from rnnviz.data.split import make_split
    from rnnviz.training.predictor import Predictor

    a, b = (train(CFG.replace(n_train=400, epochs=1, seed=s)) for s in (31, 32))
    x = make_split(CFG.replace(n_score=300), "score").x
    pa, pb = Predictor(a.model), Predictor(b.model)
    assert pa._fn is pb._fn  # one traced function for the architecture
    padded = np.zeros((pa.batch_rows, *x.shape[1:]), dtype=np.float32)  # one call's shape
    padded[: len(x)] = x
    for _ in range(2):  # alternating calls: each passes its own weights
        for p, result in ((pa, a), (pb, b)):
            direct = np.asarray(result.model(padded, training=False))[: len(x), :, 0]
            np.testing.assert_array_equal(p(x), direct)
    assert not np.array_equal(pa(x), pb(x))
