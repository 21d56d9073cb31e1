"""``srtf``: shortest remaining time first, using the true remaining run time (the simulator's oracle; the
live system falls back to the walltime). Preemptive: a job may preempt running, preemptible jobs with more
time left. An oracle lower bound for comparing the other policies."""

from __future__ import annotations

from gpucloud.core.policies.base import POLICIES, Mode
from gpucloud.core.policies.fifo import SortedQueue
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob, RunningJob


def _remaining(j: PendingJob) -> float:
    return j.spec.walltime if j.remaining is None else j.remaining


@POLICIES.register("srtf")
class ShortestRemainingFirst(SortedQueue):
    name = "srtf"
    mode = Mode.SKIP

    def __init__(self, state: SchedulerState) -> None:
        super().__init__(state)
        self._ranked: list[tuple[float, RunningJob]] | None = None

    def queue_key(self, job: PendingJob) -> tuple[float, ...]:
        return (-job.spec.priority, _remaining(job), job.spec.submit_time, self.state.seq[job.spec.id])

    def may_preempt(self) -> bool:
        return True

    def begin_cycle(self, now: float) -> None:
        super().begin_cycle(now)
        self._ranked = None

    def _by_remaining(self, now: float) -> list[tuple[float, RunningJob]]:
        """Preemptible running jobs, the most time left first; computed once per cycle."""
        if self._ranked is None:
            ranked = [(r.remaining_at(now), r) for r in self.state.running.values() if r.spec.preemptible]
            ranked.sort(key=lambda x: (-x[0], -x[1].start, self.state.seq[x[1].spec.id]))
            self._ranked = ranked
        return self._ranked

    def victims(self, job: PendingJob, now: float) -> list[RunningJob]:
        mine = _remaining(job)
        return self.ranked_victims(job, self._by_remaining(now), lambda left: left > mine)
