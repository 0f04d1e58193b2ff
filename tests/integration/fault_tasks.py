"""A task for the worker-fault tests (tests/integration/test_worker_faults.py), loaded into a real
worker with `--include`: it notes each delivery in a file, holds the worker, then notes completion."""

import os
import time

from celery import shared_task


@shared_task(name="tests.integration.fault_tasks.hold_then_record")
def hold_then_record(path, seconds):
    with open(path, "a") as log:
        log.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    with open(path, "a") as log:
        log.write(f"done {os.getpid()}\n")
