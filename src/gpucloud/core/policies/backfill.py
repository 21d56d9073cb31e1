"""``backfill``: EASY backfill. Queue order is FIFO; the first job that does not fit gets a reservation at
the earliest time it can start (from the walltimes of running jobs), and later jobs may start now only if
they do not delay it (see ``gpucloud.core.reservation``)."""

from __future__ import annotations

from collections.abc import Iterable

from sortedcontainers import SortedKeyList

from gpucloud.core.policies.base import POLICIES, Mode
from gpucloud.core.policies.fifo import SubmitOrderQueue
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import RunningJob


@POLICIES.register("backfill")
class Backfill(SubmitOrderQueue):
    name = "backfill"
    mode = Mode.BACKFILL

    def __init__(self, state: SchedulerState) -> None:
        super().__init__(state)
        seq = state.seq
        self.by_end = SortedKeyList(key=lambda r: (r.expected_end, seq[r.spec.id]))

    def started(self, job: RunningJob) -> None:
        self.by_end.add(job)

    def stopped(self, job: RunningJob) -> None:
        self.by_end.remove(job)

    def running_by_end(self) -> Iterable[RunningJob]:
        ordered: Iterable[RunningJob] = self.by_end
        return iter(ordered)
