"""``las``: Tiresias-style discretized two-dimensional least-attained-service, preemptive.

A job's attained service is GPUs × run time (GPU-seconds), summed over its runs. The thresholds
``las_thresholds`` split jobs into queues: queue 0 holds jobs with the least service. Order: priority class,
then queue, then the time the job entered the queue. A job may preempt running, preemptible jobs of a higher
queue (newest first). Starvation protection: a job queued for ``las_starvation`` seconds is promoted to
queue 0. The policy asks to be woken when a running job crosses a threshold or a queued job starves.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator

from sortedcontainers import SortedKeyList

from gpucloud.core.policies.base import POLICIES, Mode
from gpucloud.core.policies.fifo import SortedQueue
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob, RunningJob


@POLICIES.register("las")
class LeastAttainedService(SortedQueue):
    name = "las"
    mode = Mode.SKIP

    def __init__(self, state: SchedulerState) -> None:
        seq = state.seq
        self.thresholds = state.config.las_thresholds
        self.starve = state.config.las_starvation
        super().__init__(state)
        self.by_wait = SortedKeyList(key=lambda j: (j.queued_since, seq[j.spec.id]))
        self._victim_order: list[tuple[int, RunningJob]] | None = None
        #: (time, seq, job id, run start): when a running job crosses a threshold — a heap, stale entries
        #: (runs that stopped) are dropped lazily
        self._crossings: list[tuple[float, int, str, float]] = []
        self._ranked_at = -1.0

    def level(self, attained: float) -> int:
        return bisect.bisect_right(self.thresholds, attained)

    def queue_key(self, job: PendingJob) -> tuple[float, ...]:
        return (-job.spec.priority, self.level(job.attained), job.queued_since or 0.0, self.state.seq[job.spec.id])

    def enqueue(self, job: PendingJob) -> None:
        super().enqueue(job)
        self.by_wait.add(job)

    def dequeue(self, job: PendingJob) -> None:
        super().dequeue(job)
        self.by_wait.remove(job)

    def _starving(self, now: float) -> list[PendingJob]:
        limit = now - self.starve
        out = []
        for j in self.by_wait:
            if (j.queued_since or 0.0) > limit:
                break
            if self.level(j.attained) > 0:
                out.append(j)
        return out

    def order(self, now: float) -> Iterator[PendingJob]:
        starving = self._starving(now)
        if not starving:
            return iter(self.queue)
        promoted = {j.spec.id for j in starving}
        seq = self.state.seq
        first = sorted(starving, key=lambda j: (-j.spec.priority, 0, j.queued_since or 0.0, seq[j.spec.id]))
        rest = (j for j in self.queue if j.spec.id not in promoted)
        return heapq.merge(first, rest, key=lambda j: self.rank(j, now))

    def rank(self, j: PendingJob, now: float) -> tuple[int, int, float, int]:
        promoted = (j.queued_since or 0.0) <= now - self.starve
        return (-j.spec.priority, 0 if promoted else self.level(j.attained), j.queued_since or 0.0,
                self.state.seq[j.spec.id])

    def may_preempt(self) -> bool:
        return True

    def _ranked(self, now: float) -> list[tuple[int, RunningJob]]:
        """Preemptible running jobs with their queue, highest queue (most service) and newest first; computed
        once per cycle."""
        if self._ranked_at != now or self._victim_order is None:
            ranked = [(self.level(r.attained(now)), r) for r in self.state.running.values() if r.spec.preemptible]
            ranked.sort(key=lambda x: (-x[0], -x[1].start, self.state.seq[x[1].spec.id]))
            self._victim_order, self._ranked_at = ranked, now
        return self._victim_order

    def begin_cycle(self, now: float) -> None:
        super().begin_cycle(now)
        self._victim_order = None

    def victims(self, job: PendingJob, now: float) -> list[RunningJob]:
        mine = self.rank(job, now)[1]
        return self.ranked_victims(job, self._ranked(now), lambda level: level > mine)

    def started(self, job: RunningJob) -> None:
        """Note when the job will cross each queue threshold it has not crossed yet."""
        gpus = job.placement.gpus
        for threshold in self.thresholds:
            if threshold > job.attained_before and gpus:
                at = job.start + (threshold - job.attained_before) / gpus
                heapq.heappush(self._crossings, (at, self.state.seq[job.spec.id], job.spec.id, job.start))

    def next_crossing(self, now: float) -> float | None:
        """The next time a running job crosses a queue threshold (entries of stopped runs are dropped)."""
        heap, running = self._crossings, self.state.running
        while heap:
            at, _, jid, start = heap[0]
            run = running.get(jid)
            if at > now and run is not None and run.start == start:
                return at
            heapq.heappop(heap)
        return None

    def wake_at(self, now: float) -> float | None:
        if not self.queue:
            return None
        times: list[float] = []
        crossing = self.next_crossing(now)
        if crossing is not None:
            times.append(crossing)
        for j in self.by_wait:
            t = (j.queued_since or 0.0) + self.starve
            if t > now and self.level(j.attained) > 0:
                times.append(t)
                break
        future = [t for t in times if t > now]
        return min(future) if future else None
