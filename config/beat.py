"""One beat per schedule file: every periodic task is sent once, never once per scheduler running.

`celery worker -B` runs its scheduler as a child process; a worker killed with SIGKILL leaves that
child running as an orphan, and the next worker started beside it brought a second scheduler (after
three restarts, four schedulers sent every periodic task). Beat is therefore its own process
everywhere (Procfile, docker-compose), and this scheduler refuses to start while another one holds
the schedule file's lock: an exclusive flock that the kernel releases when its holder dies, however
it dies, so a crash never leaves a stale lock behind. The lock covers one host (one schedule
file); a deployment runs exactly one beat.
"""

import fcntl
import logging
import os

from celery.beat import PersistentScheduler

logger = logging.getLogger(__name__)


class SingleBeatScheduler(PersistentScheduler):
    _lock_file = None

    def setup_schedule(self):
        self._take_lock()
        super().setup_schedule()

    def _take_lock(self):
        path = f"{self.schedule_filename}.lock"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 (held open for the life of the process)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            logger.critical(
                "another celery beat (pid %s) is running on %s: not starting a second one "
                "(every periodic task would be sent twice)", holder, self.schedule_filename,
            )
            raise SystemExit(1) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle

    def close(self):
        super().close()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None
