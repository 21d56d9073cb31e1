"""``fifo``: strict first-come-first-served (within a priority class). A head job that does not fit blocks
every job behind it."""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedKeyList

from gpucloud.core.policies.base import POLICIES, Mode, Policy
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob


class SortedQueue(Policy):
    """Keeps pending jobs in one sorted list, by :meth:`queue_key` (fixed while a job waits)."""

    def __init__(self, state: SchedulerState) -> None:
        super().__init__(state)
        self.queue = SortedKeyList(key=self.queue_key)

    def queue_key(self, job: PendingJob) -> tuple[float, ...]:
        raise NotImplementedError

    def enqueue(self, job: PendingJob) -> None:
        self.queue.add(job)

    def dequeue(self, job: PendingJob) -> None:
        self.queue.remove(job)

    def order(self, now: float) -> Iterator[PendingJob]:
        return iter(self.queue)


class SubmitOrderQueue(SortedQueue):
    """Pending jobs by (priority class, submit time, submission sequence)."""

    def queue_key(self, job: PendingJob) -> tuple[float, ...]:
        return (-job.spec.priority, job.spec.submit_time, self.state.seq[job.spec.id])


@POLICIES.register("fifo")
class Fifo(SubmitOrderQueue):
    name = "fifo"
    mode = Mode.STRICT
