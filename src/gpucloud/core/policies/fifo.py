"""``fifo``: strict first-come-first-served (within a priority class). A head job that does not fit blocks
every job behind it."""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedKeyList

from gpucloud.core.policies.base import POLICIES, Mode, Policy
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob


class SubmitOrderQueue(Policy):
    """Keeps pending jobs ordered by (priority class, submit time, submission sequence)."""

    def __init__(self, state: SchedulerState) -> None:
        super().__init__(state)
        seq = state.seq
        self.queue = SortedKeyList(key=lambda j: (-j.spec.priority, j.spec.submit_time, seq[j.spec.id]))

    def enqueue(self, job: PendingJob) -> None:
        self.queue.add(job)

    def dequeue(self, job: PendingJob) -> None:
        self.queue.remove(job)

    def order(self, now: float) -> Iterator[PendingJob]:
        return iter(self.queue)


@POLICIES.register("fifo")
class Fifo(SubmitOrderQueue):
    name = "fifo"
    mode = Mode.STRICT
