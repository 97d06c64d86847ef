"""The worker and its queue: every visitor is queued in submission order (never sent away for a
fixed count), visitors go before warming and see their position and an estimate, a warming job
gives way, a worker process over its memory budget or killed mid-job is replaced, and the web
server's process never imports TensorFlow."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from rnnviz.config import Config
from rnnviz.rules import RULE_PRESETS as RULES
from rnnviz.serve.jobs import TrainingJobs, wait_for, warm
from rnnviz.serve.store import ModelStore
from rnnviz.serve.warm import missing, preset_experiments
from rnnviz.serve.worker import Worker, WorkerDied
from rnnviz.serve.worker_preload import clean_file_mappings
from rnnviz.training.fit import train

TINY = Config(seq_len=5, n_train=300, n_val=100, n_score=40, epochs=1)
GATE = "worker_tasks:gate"


@pytest.fixture(scope="module")
def worker():
    w = Worker(slots=1, budget_mb=None)
    yield w
    w.close()


def _order(folder) -> list[str]:
    return (folder / "order").read_text().split()


def test_jobs_queue_in_submission_order_visitors_before_warming_with_positions(worker, tmp_path):
    first = worker.submit(GATE, "first", (str(tmp_path), "first"))
    assert first.wait_until(lambda: first.progress is not None, 60)  # it holds the only slot
    warmers = [worker.submit(GATE, f"w{i}", (str(tmp_path), f"w{i}"), priority=1) for i in (1, 2)]
    visitors = [worker.submit(GATE, f"v{i}", (str(tmp_path), f"v{i}")) for i in (1, 2)]
    # known the moment they are submitted: no thread has to run first
    assert [j.queue_position for j in visitors + warmers] == [1, 2, 3, 4]
    assert first.queue_position is None and first.running
    assert worker.submit(GATE, "v1", ()) is visitors[0]  # the same work is one job
    worker._durations["train"] = [2.0, 2.0, 2.0]  # as if three 2 s jobs had been timed
    assert worker.estimate_wait(2) == pytest.approx(3.0)  # one ahead + half of the running one
    (tmp_path / "release").touch()
    for job in [first, *visitors, *warmers]:
        assert job.get(60) == job.key
    assert _order(tmp_path) == ["first", "v1", "v2", "w1", "w2"]


def test_a_visitor_asking_for_what_is_being_warmed_moves_it_ahead(worker, tmp_path):
    first = worker.submit(GATE, "first", (str(tmp_path), "first"))
    assert first.wait_until(lambda: first.progress is not None, 60)
    warmers = [worker.submit(GATE, f"w{i}", (str(tmp_path), f"w{i}"), priority=1) for i in range(3)]
    same = worker.submit(GATE, "w2", (str(tmp_path), "w2"))
    assert same is warmers[2] and same.priority == 0 and same.queue_position == 1
    (tmp_path / "release").touch()
    for job in [first, *warmers]:
        job.get(60)
    assert _order(tmp_path) == ["first", "w2", "w0", "w1"]


def test_training_status_tells_the_position_and_an_estimate(worker, tmp_path):
    store, jobs = ModelStore(tmp_path / "cache"), TrainingJobs(worker)
    first = worker.submit(GATE, "first", (str(tmp_path), "first"))
    assert first.wait_until(lambda: first.progress is not None, 60)
    worker._durations["train"] = [2.0]
    ahead = jobs.submit(store, TINY.replace(seed=1))
    mine = jobs.submit(store, TINY.replace(seed=2))
    text = mine.status()
    assert "1 job ahead of yours" in text and "about 3 s to go" in text, text
    assert ahead.status().startswith("Waiting for another training to finish")
    (tmp_path / "release").touch()
    for job in (ahead, mine):
        wait_for(job, lambda j: None, interval=0.05)
        assert job.error is None and job.result.config == job.result.config
    assert mine.result.config.seed == 2 and mine.status().startswith("Training")


def test_a_worker_killed_mid_training_fails_that_job_clearly_and_the_next_gets_a_fresh_one(
    tmp_path,
):
    worker = Worker(slots=1, budget_mb=None)
    try:
        store, jobs = ModelStore(tmp_path), TrainingJobs(worker)
        slow = TINY.replace(n_train=2000, epochs=40, patience=0, seed=31)
        job = jobs.submit(store, slow)
        assert job.wait_until(lambda: job.progress is not None, 120)  # training, mid-way
        (pid,) = worker.pids()
        os.kill(pid, signal.SIGKILL)
        assert job.wait(60)
        assert isinstance(job.error, WorkerDied) and "try again" in str(job.error)
        assert jobs.failed(slow) is job  # every session sees the failure until a retry
        assert missing(tmp_path, [slow]) == [slow] and not store.on_disk(slow)  # nothing written
        jobs.forget(slow)
        again = wait_for(jobs.submit(store, TINY.replace(seed=32)), lambda j: None)
        assert again.error is None and worker.died == 1 and worker.processes_started == 2
        assert worker.pids() and worker.pids()[0] != pid
    finally:
        worker.close()


def test_a_worker_over_its_memory_budget_is_replaced_after_its_job(tmp_path):
    probe = Worker(slots=1, budget_mb=None)
    try:  # what a worker process holds of its own after a small job, on this machine
        base = probe.submit("worker_tasks:own", "base", ()).get(60)
    finally:
        probe.close()
    worker = Worker(slots=1, budget_mb=base + 150)
    try:
        small = worker.submit("worker_tasks:hold", "small", (5,)).get(60)
        assert worker.submit("worker_tasks:pid", "again", ()).get(60) == small  # kept
        big = worker.submit("worker_tasks:hold", "big", (300,)).get(60)
        assert big == small and worker.recycled == 1
        fresh = worker.submit("worker_tasks:pid", "fresh", ()).get(60)
        assert fresh != big and worker.processes_started == 2
    finally:
        worker.close()


SMAPS = """\
55d0a0000000-55d0a0001000 r--p 00000000 08:01 11 /usr/bin/python3.11
Rss:                   4 kB
Anonymous:             0 kB
7f0000000000-7f0000100000 r-xp 00010000 08:01 12 /site-packages/tensorflow/libtf.so.2
Size:               1024 kB
Rss:                 800 kB
Anonymous:             0 kB
7f0000100000-7f0000200000 r--p 00110000 08:01 12 /site-packages/tensorflow/libtf.so.2
Rss:                 100 kB
Anonymous:            40 kB
7f0000200000-7f0000210000 rw-p 00210000 08:01 12 /site-packages/tensorflow/libtf.so.2
Rss:                  64 kB
Anonymous:             0 kB
7f0000300000-7f0000400000 rw-p 00000000 00:00 0
Rss:                 900 kB
Anonymous:           900 kB
7f0000400000-7f0000401000 r--s 00000000 00:05 13 /dev/shm/segment
Rss:                   4 kB
Anonymous:             0 kB
7f0000500000-7f0000501000 r-xp 00000000 08:01 14 /tmp/old.so (deleted)
Rss:                   4 kB
Anonymous:             0 kB
7f0000600000-7f0000601000 r--p 00000000 08:01 15 /usr/lib/not-read.so
Rss:                   0 kB
Anonymous:             0 kB
7fff00000000-7fff00001000 r-xp 00000000 00:00 0 [vdso]
Rss:                   4 kB
Anonymous:             0 kB
7f0000700000-7f0000702000 r--p 00000000 08:01 16 /usr/lib/last.so
Rss:                   8 kB
Anonymous:             0 kB
"""


def test_only_read_only_file_pages_never_copied_may_be_dropped():
    # dropped: read from a file, private, not writable, no page copied on write, resident
    assert clean_file_mappings(SMAPS) == [
        (0x55D0A0000000, 0x55D0A0001000, "/usr/bin/python3.11"),
        (0x7F0000000000, 0x7F0000100000, "/site-packages/tensorflow/libtf.so.2"),
        (0x7F0000700000, 0x7F0000702000, "/usr/lib/last.so"),
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_forkserver_keeps_none_of_the_library_pages_it_read_importing_tensorflow(worker):
    pid = worker.submit("worker_tasks:pid", "forkserver", ()).get(60)
    with open(f"/proc/{pid}/stat") as f:
        forkserver = int(f.read().rsplit(")", 1)[1].split()[1])
    with open(f"/proc/{forkserver}/cmdline", "rb") as f:
        assert b"multiprocessing.forkserver" in f.read()
    kb = {}
    with open(f"/proc/{forkserver}/smaps_rollup") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                kb[name] = int(rest.split()[0])
    files_mb = (kb["Rss"] - kb["Anonymous"]) / 1024
    assert files_mb < 60, files_mb  # importing TensorFlow read ~340 MB of its libraries


def test_a_warming_training_gives_way_to_a_visitor_and_still_makes_the_same_model(worker, tmp_path):
    slow = TINY.replace(n_train=2000, epochs=40, patience=0, seed=21)
    store, jobs = ModelStore(tmp_path), TrainingJobs(worker)
    (warming,) = warm(jobs, store, [slow])
    assert warming.wait_until(lambda: warming.progress is not None, 120)  # under way
    visitor = wait_for(jobs.submit(store, TINY.replace(seed=22)), lambda j: None, interval=0.01)
    assert visitor.error is None
    assert not warming.done.is_set()  # the visitor did not wait for the whole warming training
    wait_for(warming, lambda j: None, interval=0.05)
    assert warming.error is None and missing(tmp_path, [slow]) == []  # scores etc. kept too
    fresh = train(slow)
    for a, b in zip(warming.result.model.get_weights(), fresh.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_thirty_visitors_are_all_queued_and_all_get_a_result(worker, tmp_path):
    jobs = [worker.submit(GATE, f"s{i}", (str(tmp_path), f"s{i}")) for i in range(30)]
    waiting = [j.queue_position for j in jobs if j.queue_position is not None]
    assert len(waiting) >= 29 and waiting == list(range(1, len(waiting) + 1))
    (tmp_path / "release").touch()
    assert [j.get(120) for j in jobs] == [f"s{i}" for i in range(30)]
    assert _order(tmp_path) == [f"s{i}" for i in range(30)]


def test_a_failing_task_reports_its_error_without_a_traceback(worker, tmp_path):
    one_class = TINY.replace(rule="x1 > 2")  # never true: nothing to learn (a DataError)
    job = worker.submit("train", "bad", (str(tmp_path), one_class, False))
    job.wait(60)
    assert isinstance(job.error, ValueError) and "class" in str(job.error)
    assert "Traceback" not in str(job.error)


def test_preset_experiments_cover_every_preset_with_the_default_recipe():
    configs = preset_experiments()
    assert [c.rule for c in configs[: len(RULES)]] == list(RULES)
    assert all(c == Config(rule=c.rule) for c in configs[: len(RULES)])
    assert len({c.training_id() for c in configs}) == len(configs)
    # the real series, and the planted box of the "Sure and redundant" lesson
    others = {c.dataset for c in configs if c.dataset != "synthetic"}
    assert others == {"seattle-weather", "box-raretime"}
    assert {c.outcome for c in configs} == {"rain", "temp_max"}


def test_preset_experiments_fit_the_hosted_bounds():
    from rnnviz.config import PRESETS
    from rnnviz.serve.hosting import HOSTED_BOUNDS

    hosted = preset_experiments(HOSTED_BOUNDS)
    for config in hosted:
        config.validate(HOSTED_BOUNDS)
    # hosted mode leaves out only what it cannot afford: the planted box (50 x 50)
    assert [c for c in preset_experiments() if c not in hosted] == [PRESETS["box-raretime"]]


def test_a_warmed_model_equals_a_fresh_training_and_keeps_what_its_pages_read(worker, tmp_path):
    configs = [TINY.replace(rule="lagged", seed=3), TINY.replace(rule="threshold", seed=4)]
    store, jobs = ModelStore(tmp_path), TrainingJobs(worker)
    for job in warm(jobs, store, configs):
        wait_for(job, lambda j: None, interval=0.05)
    assert warm(jobs, store, configs) == []  # already kept: nothing queued again
    restarted = ModelStore(tmp_path)  # as a server restarted after warming
    for config in configs:
        warmed, fresh = restarted.get(config), train(config)
        assert warmed is not None and restarted.get_interactions(config) is not None
        for a, b in zip(warmed.model.get_weights(), fresh.model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    from rnnviz.experiment import explain

    saved, fresh = restarted.get_scores(configs[0]), explain(train(configs[0]), configs[0])
    np.testing.assert_array_equal(saved.importances, fresh.importances)


def test_warming_a_real_series_keeps_its_forecast_scores(tmp_path):
    pytest.importorskip("vega_datasets")
    from rnnviz.config import PRESETS
    from rnnviz.report.readings import judge
    from rnnviz.serve.tasks import warm_one

    config = PRESETS["seattle-weather"].replace(epochs=1, n_repeats=1)
    warm_one(ModelStore(tmp_path), config)
    store = ModelStore(tmp_path)
    saved = store.get_forecast(config)
    assert saved is not None and saved == judge(config, store.get(config).predict)[0]


def test_hosted_mode_warms_the_presets_with_one_worker_process():
    from rnnviz.serve.hosting import load_settings

    hosted = load_settings(env={"RNNVIZ_HOSTED": "1"})
    assert hosted.warm_presets and hosted.max_training == 1 and hosted.worker_budget_mb > 0
    local = load_settings(env={})
    assert not local.warm_presets and local.max_training == 2
    env = {"RNNVIZ_HOSTED": "1", "RNNVIZ_WARM_PRESETS": "0"}
    tuned = load_settings(env={**env, "RNNVIZ_WORKER_BUDGET_MB": "200", "RNNVIZ_MAX_TRAINING": "2"})
    assert not tuned.warm_presets and tuned.worker_budget_mb == 200 and tuned.max_training == 2
    with pytest.raises(ValueError, match="max_training"):
        load_settings(env={"RNNVIZ_MAX_TRAINING": "0"})


SERVER = textwrap.dedent(
    """
    import sys
    from rnnviz.config import Config
    from rnnviz.serve.jobs import TrainingJobs
    from rnnviz.serve.store import ModelStore
    from rnnviz.serve.worker import Worker

    config = Config(seq_len=5, n_train=300, n_val=100, n_score=40, epochs=1, cell="gru")
    worker = Worker(slots=1)
    store = ModelStore(sys.argv[1])
    job = TrainingJobs(worker).submit(store, config)
    job.wait(300)
    assert job.error is None, job.error
    scores = worker.run("scores", "k", (sys.argv[1], config), timeout=300)
    assert job.result.val_accuracy > 0 and scores.importances.shape[0] == 3
    worker.close()
    print("tensorflow" in sys.modules, "keras" in sys.modules)
    """
)


def test_the_server_process_never_imports_tensorflow(tmp_path):
    """A training and a scoring through the worker: the submitting process (the web server)
    reads the result and never imports TensorFlow or Keras."""
    out = subprocess.run(
        [sys.executable, "-c", SERVER, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "False"]


KILLED_SERVER = textwrap.dedent(
    """
    import os, sys, time
    from rnnviz.serve.worker import Worker

    if __name__ == "__main__":
        worker = Worker(slots=1, budget_mb=None)
        worker.submit("worker_tasks:pid", "pid", ()).get(300)
        (pid,) = worker.pids()
        forkserver = open(f"/proc/{pid}/stat").read().split()[3]  # the worker's parent
        print(pid, forkserver, flush=True)
        time.sleep(300)
    """
)


def test_worker_processes_end_with_a_killed_server(tmp_path):
    """A server killed outright (SIGKILL, out of memory) leaves no worker process nor
    forkserver behind (multiprocessing alone would keep both alive for ever)."""
    script = tmp_path / "server.py"
    script.write_text(KILLED_SERVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        worker_pid, forkserver_pid = (int(p) for p in server.stdout.readline().split())
    finally:
        server.kill()
        server.wait()
    for pid in (worker_pid, forkserver_pid):
        deadline = time.monotonic() + 30
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(pid), f"process {pid} outlived its server"


def _running(pid: int) -> bool:
    """Alive and not a zombie (an ended child not yet reaped by its new parent)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_visitors_quick_jobs_go_before_the_class_s_next_trainings(worker, tmp_path):
    """A student whose model is trained gets its scores before the trainings queued after it:
    otherwise every student of a class waits for the whole class's trainings."""
    from rnnviz.serve.worker import QUICK, TRAINING

    first = worker.submit(GATE, "first", (str(tmp_path), "first"), priority=TRAINING)
    assert first.wait_until(lambda: first.progress is not None, 60)
    trainings = [
        worker.submit(GATE, f"t{i}", (str(tmp_path), f"t{i}"), priority=TRAINING) for i in (1, 2)
    ]
    scores = worker.submit(GATE, "scores", (str(tmp_path), "scores"), priority=QUICK)
    assert scores.queue_position == 1 and [t.queue_position for t in trainings] == [2, 3]
    (tmp_path / "release").touch()
    for job in [first, scores, *trainings]:
        job.get(60)
    assert _order(tmp_path) == ["first", "scores", "t1", "t2"]
