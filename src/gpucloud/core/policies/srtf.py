"""``srtf``: shortest remaining time first, using the true remaining run time (the simulator's oracle; the
live system falls back to the walltime). Preemptive: a job may preempt running, preemptible jobs with more
time left. An oracle lower bound for comparing the other policies."""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedKeyList

from gpucloud.core.policies.base import POLICIES, Mode, Policy
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob, RunningJob


def _remaining(j: PendingJob) -> float:
    return j.spec.walltime if j.remaining is None else j.remaining


@POLICIES.register("srtf")
class ShortestRemainingFirst(Policy):
    name = "srtf"
    mode = Mode.SKIP

    def __init__(self, state: SchedulerState) -> None:
        super().__init__(state)
        seq = state.seq
        self.queue = SortedKeyList(key=lambda j: (-j.spec.priority, _remaining(j), j.spec.submit_time,
                                                  seq[j.spec.id]))

    def enqueue(self, job: PendingJob) -> None:
        self.queue.add(job)

    def dequeue(self, job: PendingJob) -> None:
        self.queue.remove(job)

    def order(self, now: float) -> Iterator[PendingJob]:
        return iter(self.queue)

    def may_preempt(self) -> bool:
        return True

    def victims(self, job: PendingJob, now: float) -> list[RunningJob]:
        out = self.priority_victims(job)
        seen = {r.spec.id for r in out}
        mine = _remaining(job)
        more = [
            r for r in self.state.running.values()
            if r.spec.preemptible and not r.preempting and r.spec.id not in seen
            and r.spec.priority == job.spec.priority and r.remaining_at(now) > mine
        ]
        more.sort(key=lambda r: (-r.remaining_at(now), -r.start))
        return out + more
