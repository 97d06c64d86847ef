"""The training queue: every visitor is queued (never sent away for a fixed count), visitors go
before cache warming, a waiting visitor sees an estimate, and warmed models equal fresh ones."""

import os
import threading

import numpy as np
import pytest

import rnnviz.store
from rnnviz.config import Config
from rnnviz.jobs import BusyError, TrainingJobs, preset_experiments, wait_for, warm
from rnnviz.model import train
from rnnviz.rules import RULE_PRESETS as RULES
from rnnviz.store import ModelStore

TINY = Config(seq_len=5, n_train=300, n_val=100, n_score=40, epochs=1)


class _Gate:
    """A stand-in for ``train`` that records the order of trainings and waits to be released."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.entered = threading.Event()  # a training has started (holds the slot)
        self.release = threading.Event()
        self.real = train

    def __call__(self, config, progress=None):
        self.entered.set()
        self.release.wait(20)
        self.order.append(config.seed)
        return self.real(TINY)  # a real (tiny) result; the store keys it by ``config``


def test_thirty_visitors_are_all_queued_and_all_get_a_model(tmp_path, monkeypatch):
    gate = _Gate()
    monkeypatch.setattr(rnnviz.store, "train", gate)
    store, jobs = ModelStore(tmp_path), TrainingJobs()
    submitted = [jobs.submit(store, TINY.replace(seed=s)) for s in range(30)]  # no BusyError
    statuses = [j.status() for j in submitted]
    gate.release.set()
    for job in submitted:
        wait_for(job, lambda j: None, interval=0.01)
        assert job.error is None and job.result is not None
    assert sorted(gate.order) == list(range(30))
    assert all(isinstance(s, str) and s for s in statuses)


def test_visitors_go_before_warming_and_see_their_position_and_an_estimate(tmp_path, monkeypatch):
    gate = _Gate()
    monkeypatch.setattr(rnnviz.store, "train", gate)
    store, jobs = ModelStore(tmp_path), TrainingJobs()
    store._durations.extend([2.0, 2.0, 2.0])  # as if three trainings of 2 s had been timed
    first = jobs.submit(store, TINY.replace(seed=100))  # runs first (holds the only slot)
    assert gate.entered.wait(10)
    warmers = warm(jobs, store, [TINY.replace(seed=s) for s in (200, 201)])
    visitors = [jobs.submit(store, TINY.replace(seed=s)) for s in (300, 301)]
    for job, place in zip(visitors + warmers, [1, 2, 3, 4], strict=True):
        # the queue's order is the order of the submits, whichever thread runs first
        assert job.wait_until(lambda job=job, place=place: job.queue_position == place, 20)
    assert visitors[1].queue_position == 2  # behind the other visitor, ahead of the warmers
    assert warmers[0].queue_position == 3
    text = visitors[1].status()
    assert "1 training ahead of yours" in text and "about 3 s to go" in text, text
    gate.release.set()
    for job in [first, *warmers, *visitors]:
        wait_for(job, lambda j: None, interval=0.01)
    assert gate.order == [100, 300, 301, 200, 201]


def test_memory_limit_refuses_new_jobs_while_one_runs_and_admits_them_once_memory_frees(
    monkeypatch,
):
    gate = _Gate()
    monkeypatch.setattr(rnnviz.store, "train", gate)
    memory = {"mb": 950.0}
    jobs = TrainingJobs(memory_limit_mb=900, memory_mb=lambda: memory["mb"])
    store = ModelStore(None)
    first = jobs.submit(store, TINY)  # nothing else runs: admitted (see the next test)
    with pytest.raises(BusyError, match="memory limit"):
        jobs.submit(store, TINY.replace(seed=1))
    memory["mb"] = 500.0
    second = jobs.submit(store, TINY.replace(seed=1))
    gate.release.set()
    for job in (first, second):
        assert wait_for(job, lambda j: None, interval=0.05).error is None


def test_above_the_memory_limit_with_nothing_running_a_training_is_still_admitted():
    """What a hosted class met: the process was above its limit after start-up with no training
    running, so every visitor was told to wait for memory that nothing would ever free."""
    jobs = TrainingJobs(memory_limit_mb=900, memory_mb=lambda: 1100.0)
    job = wait_for(jobs.submit(ModelStore(None), TINY), lambda j: None, interval=0.05)
    assert job.error is None and job.result is not None


def test_preset_experiments_cover_every_preset_with_the_default_recipe():
    configs = preset_experiments()
    assert [c.rule for c in configs[: len(RULES)]] == list(RULES)
    assert all(c == Config(rule=c.rule) for c in configs[: len(RULES)])
    assert len({c.training_id() for c in configs}) == len(configs)
    assert {"seattle-weather"} == {c.dataset for c in configs if c.dataset != "synthetic"}
    assert {c.outcome for c in configs} == {"rain", "temp_max"}


def test_preset_experiments_fit_the_hosted_bounds():
    from rnnviz.hosting import HOSTED_BOUNDS

    for config in preset_experiments():
        config.validate(HOSTED_BOUNDS)


def test_a_warmed_model_equals_a_fresh_training(tmp_path):
    configs = [TINY.replace(rule="lagged", seed=3), TINY.replace(rule="threshold", seed=4)]
    store, jobs = ModelStore(tmp_path), TrainingJobs()
    for job in warm(jobs, store, configs):
        wait_for(job, lambda j: None, interval=0.05)
    assert warm(jobs, store, configs) == []  # already cached: nothing queued again
    restarted = ModelStore(tmp_path)  # as a server restarted after warming
    for config in configs:
        warmed, fresh = restarted.get(config), train(config)
        assert warmed is not None
        for a, b in zip(warmed.model.get_weights(), fresh.model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_hosted_mode_warms_the_presets_and_bounds_the_queue_by_memory():
    from rnnviz.hosting import load_settings

    hosted = load_settings(env={"RNNVIZ_HOSTED": "1"})
    assert hosted.warm_presets and hosted.memory_limit_mb == 900
    local = load_settings(env={})
    assert not local.warm_presets and local.memory_limit_mb is None
    tuned = load_settings(
        env={"RNNVIZ_HOSTED": "1", "RNNVIZ_WARM_PRESETS": "0", "RNNVIZ_MEMORY_LIMIT_MB": "700"}
    )
    assert not tuned.warm_presets and tuned.memory_limit_mb == 700


def test_a_warming_training_gives_way_to_a_visitor_and_still_makes_the_same_model(tmp_path):
    slow = TINY.replace(n_train=2000, epochs=40, patience=0, seed=21)  # some seconds of training
    store, jobs = ModelStore(tmp_path), TrainingJobs()
    (warming,) = warm(jobs, store, [slow])
    # until the warming training is under way
    assert warming.wait_until(lambda: warming.progress is not None, 60)
    assert warming.progress is not None and not warming.done.is_set()
    visitor = wait_for(jobs.submit(store, TINY.replace(seed=22)), lambda j: None, interval=0.01)
    assert visitor.error is None
    assert not warming.done.is_set()  # the visitor did not wait for the whole warming training
    wait_for(warming, lambda j: None, interval=0.05)
    assert warming.error is None
    fresh = train(slow)
    for a, b in zip(warming.result.model.get_weights(), fresh.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_visitor_asking_for_a_model_being_warmed_moves_it_ahead(tmp_path, monkeypatch):
    gate = _Gate()
    monkeypatch.setattr(rnnviz.store, "train", gate)
    store, jobs = ModelStore(tmp_path), TrainingJobs()
    first = jobs.submit(store, TINY.replace(seed=100))
    assert gate.entered.wait(10)
    warmers = warm(jobs, store, [TINY.replace(seed=s) for s in (200, 201, 202)])
    for job, place in zip(warmers, [1, 2, 3], strict=True):
        assert job.wait_until(lambda job=job, place=place: job.queue_position == place, 20)
    same = jobs.submit(store, TINY.replace(seed=202))  # a visitor opens a warmed preset
    assert same is warmers[2] and same.priority == 0
    gate.release.set()
    for job in [first, *warmers]:
        wait_for(job, lambda j: None, interval=0.01)
    assert gate.order == [100, 202, 200, 201]


def test_waiting_redraws_only_when_the_status_changes():
    class _Job:
        def __init__(self) -> None:
            self.polls = 0
            self.fraction, self.text = 0.0, "In the queue: 3 trainings ahead of yours"

        def wait(self, timeout: float) -> bool:
            self.polls += 1
            if self.polls == 20:
                self.text = "In the queue: 2 trainings ahead of yours"
            return self.polls > 40

        def status(self) -> str:
            return self.text

    job, shown = _Job(), []
    wait_for(job, lambda j: shown.append(j.status()), interval=0)
    assert job.polls == 41
    assert shown == [
        "In the queue: 3 trainings ahead of yours",
        "In the queue: 2 trainings ahead of yours",
        "In the queue: 2 trainings ahead of yours",  # the final report
    ]


def test_hosted_trainings_run_two_at_a_time_and_the_count_can_be_set():
    from rnnviz.hosting import load_settings

    assert load_settings(env={"RNNVIZ_HOSTED": "1"}).max_training == 2
    assert load_settings(env={"RNNVIZ_MAX_TRAINING": "1"}).max_training == 1
    with pytest.raises(ValueError, match="max_training"):
        load_settings(env={"RNNVIZ_MAX_TRAINING": "0"})


def test_warming_at_deploy_trains_each_missing_experiment_in_a_process_of_its_own(tmp_path):
    """``python -m rnnviz.warm`` (also started by hosted mode) leaves the server's process
    untouched: the model, its scores and its interactions are on disk, equal to a fresh run."""
    from rnnviz.experiment import explain
    from rnnviz.warm import warm_missing

    config = TINY.replace(rule="lagged", seed=3)
    assert warm_missing(tmp_path, [config]) == 1
    assert warm_missing(tmp_path, [config]) == 0  # already on disk: no process started
    store = ModelStore(tmp_path)
    assert store.get_interactions(config) is not None
    saved, fresh = store.get_scores(config), explain(train(config), config)
    np.testing.assert_array_equal(saved.importances, fresh.importances)


def test_warming_a_real_series_keeps_its_forecast_scores(tmp_path):
    pytest.importorskip("vega_datasets")
    from rnnviz.config import PRESETS
    from rnnviz.datasets import judge
    from rnnviz.warm import warm_one

    config = PRESETS["seattle-weather"].replace(epochs=1, n_repeats=1)
    warm_one(tmp_path, config)
    store = ModelStore(tmp_path)
    saved = store.get_forecast(config)
    assert saved is not None and saved == judge(config, store.get(config).predict)[0]


def test_an_entry_without_its_kept_results_is_warmed_again(tmp_path):
    """A warming child killed after writing the model (but before its scores) left an entry
    whose pages still need TensorFlow: it still counts as missing, and is completed."""
    from rnnviz.warm import missing, warm_one

    config = TINY.replace(rule="threshold", seed=8)
    ModelStore(tmp_path).get_or_train(config)
    assert missing(tmp_path, [config]) == [config]
    warm_one(tmp_path, config)
    assert missing(tmp_path, [config]) == []
    store = ModelStore(tmp_path)
    assert store.get_scores(config) is not None and store.get_interactions(config) is not None


FAKE_SERVER = "import sys, time; time.sleep(float(sys.argv[1])); import tensorflow; time.sleep(300)"


@pytest.mark.parametrize("delay", [0.0, 1.0], ids=["already loaded", "while a child warms"])
def test_warming_stops_when_the_server_loads_tensorflow(tmp_path, delay):
    """A warming child and a server, each with TensorFlow (~600 MB), do not fit a 1 GB host: as
    soon as the server loads TensorFlow (for a visitor), the warming stops and kills its child,
    which leaves no entry behind."""
    import subprocess
    import sys
    import time

    from rnnviz.warm import missing, server_has_tensorflow, warm_missing

    server = subprocess.Popen([sys.executable, "-c", FAKE_SERVER, str(delay)])
    try:
        if delay == 0.0:
            deadline = time.monotonic() + 120
            while not server_has_tensorflow(server.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert server_has_tensorflow(server.pid)
        config = TINY.replace(rule="lagged", seed=5, epochs=20)
        assert warm_missing(tmp_path, [config], server_pid=server.pid) == 0
        assert missing(tmp_path, [config]) == [config]  # nothing was written
        assert server_has_tensorflow(server.pid)
    finally:
        server.kill()
        server.wait()
    assert not server_has_tensorflow(server.pid)  # a process that is gone: False


def test_hosted_mode_warms_in_another_process(tmp_path, monkeypatch):
    import subprocess
    import sys

    from rnnviz import warm as warming

    started = []

    class Popen:
        def __init__(self, cmd, **kw):
            started.append(cmd)

        def wait(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", Popen)
    assert warming.start(tmp_path, [TINY]) is not None
    server = ["--server-pid", str(os.getpid())]  # it stops when this process loads TensorFlow
    assert started == [[sys.executable, "-m", "rnnviz.warm", "--cache-dir", str(tmp_path), *server]]
    assert warming.start(tmp_path, []) is None and len(started) == 1  # nothing missing
