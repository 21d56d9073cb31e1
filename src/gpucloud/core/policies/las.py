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
        #: (time, seq, job id, run start): when a running job crosses a threshold — a heap; entries of runs
        #: that stopped are dropped lazily
        self._crossings: list[tuple[float, int, str, float]] = []
        #: the queue of each running job, and per queue its preemptible running jobs, newest first
        self._level_of: dict[str, int] = {}
        self._by_level: dict[int, SortedKeyList] = {}

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

    def _bucket(self, level: int) -> SortedKeyList:
        bucket = self._by_level.get(level)
        if bucket is None:
            seq = self.state.seq
            bucket = self._by_level[level] = SortedKeyList(key=lambda r: (-r.start, seq[r.spec.id]))
        return bucket

    def _advance(self, now: float) -> None:
        """Move running jobs whose service crossed a threshold by ``now`` up one queue."""
        heap, running = self._crossings, self.state.running
        while heap and heap[0][0] <= now:
            _, _, jid, start = heapq.heappop(heap)
            run = running.get(jid)
            if run is None or run.start != start:
                continue
            old = self._level_of[jid]
            self._level_of[jid] = old + 1
            if run.spec.preemptible:
                self._by_level[old].remove(run)
                self._bucket(old + 1).add(run)

    def _ranked(self, now: float) -> Iterator[tuple[int, RunningJob]]:
        """Preemptible running jobs with their queue: the highest queue (most service) first, newest first."""
        self._advance(now)
        for level in sorted(self._by_level, reverse=True):
            for run in self._by_level[level]:
                yield level, run

    def victims(self, job: PendingJob, now: float) -> list[RunningJob]:
        mine = self.rank(job, now)[1]
        return self.ranked_victims(job, self._ranked(now), lambda level: level > mine)

    def started(self, job: RunningJob) -> None:
        """File the job under its queue and note when it will cross each threshold it has not crossed yet."""
        level = self.level(job.attained_before)
        self._level_of[job.spec.id] = level
        if job.spec.preemptible:
            self._bucket(level).add(job)
        gpus = job.placement.gpus
        for threshold in self.thresholds:
            if threshold > job.attained_before and gpus:
                at = job.start + (threshold - job.attained_before) / gpus
                heapq.heappush(self._crossings, (at, self.state.seq[job.spec.id], job.spec.id, job.start))

    def stopped(self, job: RunningJob) -> None:
        level = self._level_of.pop(job.spec.id)
        if job.spec.preemptible:
            self._by_level[level].remove(job)

    def next_crossing(self, now: float) -> float | None:
        """The next time a running job crosses a queue threshold (entries of stopped runs are dropped)."""
        self._advance(now)
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
