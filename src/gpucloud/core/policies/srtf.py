"""``srtf``: shortest remaining time first, using the true remaining run time (the simulator's oracle; the
live system falls back to the walltime). Preemptive: a job may preempt running, preemptible jobs with more
time left. An oracle lower bound for comparing the other policies."""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedKeyList

from gpucloud.core.policies.base import POLICIES, Mode
from gpucloud.core.policies.fifo import SortedQueue
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob, RunningJob


def _remaining(j: PendingJob) -> float:
    return j.spec.walltime if j.remaining is None else j.remaining


def _left(r: RunningJob) -> float:
    """Time left when the run started."""
    return r.spec.walltime if r.remaining is None else r.remaining


@POLICIES.register("srtf")
class ShortestRemainingFirst(SortedQueue):
    name = "srtf"
    mode = Mode.SKIP

    def __init__(self, state: SchedulerState) -> None:
        super().__init__(state)
        seq = state.seq
        #: preemptible running jobs, the most time left first. Time left falls at the same rate for all of
        #: them, so the order is fixed: by the time each would end (start + time left at its start).
        self._by_end = SortedKeyList(key=lambda r: (-(r.start + _left(r)), -r.start, seq[r.spec.id]))

    def queue_key(self, job: PendingJob) -> tuple[float, ...]:
        return (-job.spec.priority, _remaining(job), job.spec.submit_time, self.state.seq[job.spec.id])

    def may_preempt(self) -> bool:
        return True

    def started(self, job: RunningJob) -> None:
        if job.spec.preemptible:
            self._by_end.add(job)

    def stopped(self, job: RunningJob) -> None:
        if job.spec.preemptible:
            self._by_end.remove(job)

    def _by_remaining(self, now: float) -> Iterator[tuple[float, RunningJob]]:
        for run in self._by_end:
            yield run.remaining_at(now), run

    def victims(self, job: PendingJob, now: float) -> Iterator[RunningJob]:
        mine = _remaining(job)
        return self.ranked_victims(job, self._by_remaining(now), lambda left: left > mine)
