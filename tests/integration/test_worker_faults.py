"""Faults a shop survives on the real services: a worker killed mid-task, a second scheduler.

Real `celery` processes on the project's own settings (config.settings): a task message is
acknowledged after the work, so a worker killed with SIGKILL loses nothing (the task is redelivered
and completed by the next worker), and a second `celery beat` refuses to start beside the first.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
CELERY = [sys.executable, "-m", "celery", "-A", "config"]
TASK = "tests.integration.fault_tasks.hold_then_record"


def _env(**extra):
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def _wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _lines(path):
    return path.read_text().split("\n")[:-1] if path.exists() else []


def _worker(queue, log, *options, visibility_timeout="3"):
    return subprocess.Popen(
        [*CELERY, "worker", "-Q", queue, "--include", "tests.integration.fault_tasks", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--loglevel=INFO", *options],
        cwd=ROOT, env=_env(CELERY_VISIBILITY_TIMEOUT=visibility_timeout),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _send(queue, marker, seconds):
    app = Celery("mendian-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.task_always_eager = False
    app.send_task(TASK, args=[str(marker), seconds], queue=queue)


@pytest.mark.redis
def test_a_task_of_a_worker_killed_mid_task_is_completed_by_the_next_worker(tmp_path):
    queue, marker = f"faults-{uuid.uuid4().hex[:8]}", tmp_path / "deliveries"
    with open(tmp_path / "workers.log", "w") as log:
        first = _worker(queue, log, "--pool=solo")
        try:
            _send(queue, marker, 6)
            assert _wait_until(lambda: _lines(marker), 90), "the first worker never started the task"
            os.kill(first.pid, signal.SIGKILL)  # the worker itself, mid-task: no chance to hand it back
            first.wait(10)
        finally:
            _stop(first)
        assert _lines(marker) == [f"start {first.pid}"]
        # Redis hands an unacknowledged message out again once it is older than the visibility timeout
        # (3 s here); a worker scans for such messages when it starts and then only every tenth
        # restore tick (kombu's unacked_restore_throttle), so start the next one past the timeout
        time.sleep(4)

        second = _worker(queue, log, "--pool=solo")
        try:
            done = _wait_until(lambda: any(line.startswith("done") for line in _lines(marker)), 90)
        finally:
            _stop(second)
    assert done, (tmp_path / "workers.log").read_text()[-3000:]
    assert _lines(marker) == [f"start {first.pid}", f"start {second.pid}", f"done {second.pid}"]


@pytest.mark.redis
def test_a_task_whose_pool_process_dies_is_handed_back_at_once(tmp_path):
    """prefork (docker-compose's worker): the child running the task is killed; the message goes
    back to the queue then (reject_on_worker_lost), not after the visibility timeout."""
    queue, marker = f"faults-{uuid.uuid4().hex[:8]}", tmp_path / "deliveries"
    with open(tmp_path / "worker.log", "w") as log:
        worker = _worker(queue, log, "--pool=prefork", "--concurrency=1", visibility_timeout="3600")
        try:
            _send(queue, marker, 3)
            assert _wait_until(lambda: _lines(marker), 90), "the worker never started the task"
            child = int(_lines(marker)[0].split()[1])
            os.kill(child, signal.SIGKILL)
            done = _wait_until(lambda: any(line.startswith("done") for line in _lines(marker)), 60)
        finally:
            _stop(worker)
    assert done, (tmp_path / "worker.log").read_text()[-3000:]
    starts = [line for line in _lines(marker) if line.startswith("start")]
    assert len(starts) == 2 and starts[1] != f"start {child}"


def test_a_second_beat_refuses_to_start_and_a_new_one_starts_once_the_first_is_killed(tmp_path):
    schedule = str(tmp_path / "beat-schedule")
    beat = [*CELERY, "beat", "--loglevel=INFO", f"--schedule={schedule}"]
    # the periodic tasks these schedulers send go nowhere (a closed port), not to a queue tests consume
    env = _env(CELERY_BROKER_URL="redis://127.0.0.1:6390/0")
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(beat, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        assert _wait_until(lambda: Path(schedule + ".lock").exists()
                           and Path(schedule + ".lock").read_text().strip() == str(first.pid), 60)
        second = subprocess.run(beat, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert f"another celery beat (pid {first.pid}) is running" in second.stdout + second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # no cleanup at all: the kernel releases the lock
        first.wait(10)
    with open(tmp_path / "third.log", "w") as log:
        third = subprocess.Popen(beat, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        assert _wait_until(lambda: Path(schedule + ".lock").read_text().strip() == str(third.pid), 60)
        assert third.poll() is None
    finally:
        _stop(third)


def test_every_documented_way_to_run_the_worker_runs_beat_on_its_own():
    import yaml

    procfile = (ROOT / "Procfile").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    worker_commands = [
        line for text in (procfile, (ROOT / "README.md").read_text(), (ROOT / "Makefile").read_text())
        for line in text.splitlines() if "celery -A config worker" in line and "`worker -B`" not in line
    ] + [" ".join(compose["services"]["worker"]["command"])]
    assert len(worker_commands) >= 3
    for line in worker_commands:
        assert "-B" not in line.split() and "--beat" not in line, line
    assert "celery -A config beat" in procfile
    assert settings.CELERY_BEAT_SCHEDULER == "config.beat.SingleBeatScheduler"
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_VISIBILITY_TIMEOUT > settings.CELERY_TASK_TIME_LIMIT
