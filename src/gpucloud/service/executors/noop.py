"""The no-op executor: runs nothing; each rank "succeeds" a fixed delay after launch, timed by an injected clock.

For benchmarks of the scheduler and the control loop without processes, and to drive the live loop through a
trace exactly as the simulator does (``tests/service/test_sim_vs_loop.py``): it reports in batches like a real
executor (finished launches, and the ranks whose time has come, found with a heap: a tick costs what ended, not
what runs). A job runs ``delay_s``, or the seconds its environment names in ``GPUCLOUD_NOOP_SECONDS`` (a trace's
run time). State lives in the :class:`Handle` (launch time and run time), so a new instance after a restart reports
the same jobs the same way, given the same clock. SIGKILL ends a job at once; SIGTERM too, unless ``term_ends`` is
off: then a job spends its whole grace period "checkpointing" and ends at its SIGKILL (or its natural end, if
sooner) — the simulator's model of a stopped run.
"""

from __future__ import annotations

import heapq
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from gpucloud.service.executors.base import (
    ExitStatus,
    Found,
    Handle,
    LaunchSpec,
    LogCursor,
    LogPiece,
    RankExit,
    Report,
)
from gpucloud.service.executors.exitfile import status_from_code

#: the environment variable that gives a no-op job its run time in seconds
SECONDS_ENV = "GPUCLOUD_NOOP_SECONDS"
#: in place of the handle of a job already reported ended
_DONE = Handle("noop", "", {})


class NoopExecutor:
    name: str = "noop"
    #: Launching starts nothing: after a restart an ``admitted`` job simply goes back to the queue.
    side_effects: bool = False

    def __init__(self, delay_s: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 term_ends: bool = True) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        self.delay_s = delay_s
        self.clock = clock
        self.term_ends = term_ends
        self._lock = threading.Lock()
        self._launched: dict[str, Handle] = {}
        self._ends: list[tuple[float, str, int]] = []
        self._known: dict[str, Handle] = {}
        self._stopped: dict[str, ExitStatus] = {}
        self._notify: Callable[[], None] | None = None

    def bind(self, notify: Callable[[], None], epoch: int, installation: str = "") -> None:
        self._notify = notify
        self._known.clear()
        self._ends.clear()

    def launch(self, spec: LaunchSpec) -> None:
        delay = float(spec.env.get(SECONDS_ENV, self.delay_s))
        handle = Handle(self.name, spec.job_id, {"launched": self.clock(), "delay": max(0.0, delay),
                                                 "world": len(spec.placement), "attempt": spec.attempt})
        with self._lock:
            self._launched[spec.job_id] = handle
            self._stopped.pop(spec.job_id, None)
        if self._notify is not None:
            self._notify()

    def collect(self, watched: Mapping[str, Handle], logs: Sequence[LogCursor] = ()) -> Report:
        report = Report()
        with self._lock:
            report.launched, self._launched = self._launched, {}
            stopped = {j: s for j, s in self._stopped.items() if j in watched and self._known.get(j) is not _DONE}
            for j in stopped:
                del self._stopped[j]
        for job_id in self._known.keys() - watched.keys():  # no longer watched (a later run is a new one)
            del self._known[job_id]
        for job_id in watched.keys() - self._known.keys():
            handle = watched[job_id]
            self._known[job_id] = handle
            end = float(handle.data.get("launched", 0.0)) + float(handle.data.get("delay", self.delay_s))
            heapq.heappush(self._ends, (end, job_id, handle.attempt))
        ended: dict[str, ExitStatus] = dict(stopped)
        now = self.clock()
        while self._ends and self._ends[0][0] <= now:
            _, job_id, attempt = heapq.heappop(self._ends)
            known = self._known.get(job_id)
            if known is not None and known is not _DONE and known.attempt == attempt:
                ended.setdefault(job_id, ExitStatus(0, "exit code 0"))
        for job_id, status in ended.items():
            self._known[job_id] = _DONE
            report.exits += [RankExit(job_id, r, status) for r in range(watched[job_id].world)]
        report.logs = [LogPiece(c.job_id, c.rank, c.stream, c.offset, b"", final=True) for c in logs]
        return report

    def signal(self, handle: Handle, sig: int) -> None:
        if sig == signal.SIGTERM and not self.term_ends:  # it checkpoints until its SIGKILL
            return
        with self._lock:
            self._stopped.setdefault(handle.job_id, status_from_code(128 + sig))
        if self._notify is not None:
            self._notify()

    def find(self, job_id: str, attempt: int, nodes: Sequence[str]) -> Found:
        return Found(None)

    def close(self) -> None:
        """Nothing runs, nothing to stop."""
