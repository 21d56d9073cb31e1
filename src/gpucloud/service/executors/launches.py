"""Launches in the background: each job's launch runs in a small thread pool, so the control loop's tick never
waits on a host (a slow or unreachable one delays only its own jobs); results wait here until ``collect`` takes
them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from gpucloud.service.executors.base import Handle, LaunchError

log = logging.getLogger("gpucloud.executor")


class LaunchQueue:
    """Runs blocking launch functions in ``threads`` threads; :meth:`take` returns what finished since."""

    def __init__(self, threads: int, name: str) -> None:
        self._threads = threads
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._launched: dict[str, Handle] = {}
        self._failed: dict[str, str] = {}
        #: called (from a launch thread) after each launch finished
        self.notify: Callable[[], None] | None = None

    def submit(self, job_id: str, launch: Callable[[], Handle]) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix=f"gpucloud-{self._name}-launch")
            pool = self._pool
        pool.submit(self._run, job_id, launch)

    def _run(self, job_id: str, launch: Callable[[], Handle]) -> None:
        try:
            handle: Handle | None = launch()
            why = ""
        except LaunchError as exc:
            handle, why = None, str(exc)
        except Exception as exc:  # a bug or a broken host: the job fails with the reason, the loop goes on
            log.exception("job %s: the executor failed to launch it", job_id)
            handle, why = None, f"the executor failed to launch it: {exc}"
        with self._lock:
            if handle is not None:
                self._launched[job_id] = handle
            else:
                self._failed[job_id] = why
        notify = self.notify
        if notify is not None:
            notify()

    def take(self) -> tuple[dict[str, Handle], dict[str, str]]:
        """Launches that finished since the last call: (job id → handle, job id → why it failed)."""
        with self._lock:
            out = self._launched, self._failed
            self._launched, self._failed = {}, {}
        return out

    def close(self) -> None:
        """Wait for the launches in flight (their results are kept for a later ``take``); a later ``submit``
        starts new threads."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
