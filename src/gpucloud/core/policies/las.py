"""``las``: Tiresias-style discretized two-dimensional least-attained-service, preemptive.

A job's attained service is GPUs × run time (GPU-seconds), summed over its runs since it last entered the top
queue; with ``las_gpu_time`` off its service is its run time (Tiresias' one-dimensional variant). The thresholds
``las_thresholds`` split jobs into queues: queue 0 holds jobs with the least service.
Order: priority class, then queue, then the time the job entered the queue. A job may preempt running,
preemptible jobs of its class in a higher queue (the highest queue first, then the fewest GPUs, then the newest)
once they ran ``las_min_run`` seconds.

Starvation (Tiresias' rule): a waiting job whose waiting time reached ``las_starve_limit`` times its executed
time (its attained service / its GPUs: the run time since it last entered queue 0) is promoted to queue 0, and
its attained service is reset: the run it starts with counts from 0 (:meth:`start_attained`; the caller
stores that). Promotion depends only on the job's attained service and the time it was queued — both kept by
the live service — so a scheduler rebuilt from the database promotes exactly as one that saw the history.

The policy asks to be woken when a running job crosses a threshold, when a waiting job is due for promotion,
and when a job that could not be preempted yet has run its minimum time.
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
    bounds_waits = True

    def __init__(self, state: SchedulerState) -> None:
        seq = state.seq
        config = state.config
        self.thresholds = config.las_thresholds
        self.gpu_time = config.las_gpu_time
        self.limit = config.las_starve_limit
        self.min_run = config.las_min_run
        super().__init__(state)
        #: waiting jobs above queue 0, by the time they are due for promotion
        self.by_promotion = SortedKeyList(key=lambda j: (self.promote_at(j), seq[j.spec.id]))
        #: (time, seq, job id, run start, queue): when a preemptible running job crossing a threshold into that
        #: queue matters — a heap; entries of runs that stopped are dropped lazily
        self._crossings: list[tuple[float, int, str, float, int]] = []
        #: the queue of each running job, and per queue its preemptible running jobs, newest first
        self._level_of: dict[str, int] = {}
        self._by_level: dict[int, SortedKeyList] = {}
        #: this cycle's candidate victims (see :meth:`_ranked`), and the earliest time one kept from being a
        #: victim has run its minimum time
        self._ranked_now: list[tuple[int, RunningJob]] | None = None
        self._protected_until: float | None = None

    def level(self, attained: float, gpus: int) -> int:
        """The queue of a job with ``attained`` GPU-seconds on ``gpus`` GPUs: its service (GPU-seconds, or run
        time with ``las_gpu_time`` off) against the thresholds."""
        return bisect.bisect_right(self.thresholds, attained if self.gpu_time else attained / gpus)

    def promote_at(self, job: PendingJob) -> float:
        """When a waiting job above queue 0 is promoted: queued + limit × executed time."""
        return (job.queued_since or 0.0) + self.limit * job.attained / job.spec.num_gpus

    def protected_until(self, run: RunningJob) -> float:
        """Until when a run may not be preempted for a job of its class: ``las_min_run`` after its start."""
        return run.start + self.min_run

    def promoted(self, job: PendingJob, now: float) -> bool:
        return self.level(job.attained, job.spec.num_gpus) > 0 and self.promote_at(job) <= now

    def queue_key(self, job: PendingJob) -> tuple[float, ...]:
        return (-job.spec.priority, self.level(job.attained, job.spec.num_gpus), job.queued_since or 0.0,
                self.state.seq[job.spec.id])

    def rank(self, j: PendingJob, now: float) -> tuple[float, ...]:
        return (-j.spec.priority, 0 if self.promoted(j, now) else self.level(j.attained, j.spec.num_gpus),
                j.queued_since or 0.0,
                self.state.seq[j.spec.id])

    def enqueue(self, job: PendingJob) -> None:
        super().enqueue(job)
        if self.level(job.attained, job.spec.num_gpus) > 0:
            self.by_promotion.add(job)

    def dequeue(self, job: PendingJob) -> None:
        super().dequeue(job)
        if self.level(job.attained, job.spec.num_gpus) > 0:
            self.by_promotion.remove(job)

    def _promoted(self, now: float) -> list[PendingJob]:
        out = []
        for j in self.by_promotion:
            if self.promote_at(j) > now:
                break
            out.append(j)
        return out

    def order(self, now: float) -> Iterator[PendingJob]:
        promoted = self._promoted(now)
        if not promoted:
            return iter(self.queue)
        ids = {j.spec.id for j in promoted}
        first = sorted(promoted, key=lambda j: self.rank(j, now))
        rest = (j for j in self.queue if j.spec.id not in ids)
        return heapq.merge(first, rest, key=lambda j: self.rank(j, now))

    def start_attained(self, job: PendingJob, now: float) -> float:
        return 0.0 if self.promoted(job, now) else job.attained

    def may_preempt(self) -> bool:
        return True

    def begin_cycle(self, now: float) -> None:
        super().begin_cycle(now)
        self._ranked_now = None
        self._protected_until = None

    def _bucket(self, level: int) -> SortedKeyList:
        bucket = self._by_level.get(level)
        if bucket is None:
            seq = self.state.seq
            bucket = self._by_level[level] = SortedKeyList(key=lambda r: (-r.start, seq[r.spec.id]))
        return bucket

    def _advance(self, now: float) -> None:
        """Move the preemptible running jobs whose service crossed a threshold by ``now`` up a queue."""
        heap, running = self._crossings, self.state.running
        while heap and heap[0][0] <= now:
            _, _, jid, start, level = heapq.heappop(heap)
            run = running.get(jid)
            if run is None or run.start != start:
                continue
            old = self._level_of[jid]
            new = max(old, level)
            if new != old:
                self._level_of[jid] = new
                self._by_level[old].remove(run)
                self._bucket(new).add(run)

    def _ranked(self, now: float) -> list[tuple[int, RunningJob]]:
        """Preemptible running jobs above queue 0 that ran their minimum time, with their queue: the highest
        queue (most service) first, newest first — once per cycle (jobs started later in the cycle are never
        victims in it). Notes when the first of those still protected will be free to go."""
        if self._ranked_now is None:
            self._advance(now)
            out = []
            protected = None
            for level in sorted(self._by_level, reverse=True):
                if level == 0:
                    break  # no job ranks below queue 0
                for run in self._by_level[level]:
                    free_at = self.protected_until(run)
                    if now < free_at:
                        protected = free_at if protected is None else min(protected, free_at)
                    else:
                        out.append((level, run))
            self._ranked_now, self._protected_until = out, protected
        return self._ranked_now

    def victims(self, job: PendingJob, now: float) -> Iterator[RunningJob]:
        mine = self.rank(job, now)[1]
        return self.ranked_victims(job, iter(self._ranked(now)), lambda level: level > mine)

    def victim_tier(self, run: RunningJob) -> tuple[float, ...]:
        return (run.spec.priority, -self._level_of.get(run.spec.id, 0))

    def started(self, job: RunningJob) -> None:
        """File the job under its queue and, if it may be preempted, note when it will cross each threshold it has
        not crossed yet — or rather when that crossing matters: once it ran its minimum time."""
        gpus = job.placement.gpus
        level = self.level(job.attained_before, gpus)
        self._level_of[job.spec.id] = level
        if not job.spec.preemptible:
            return
        self._bucket(level).add(job)
        protected = self.protected_until(job)
        per = 1 if self.gpu_time else gpus  # GPU-seconds a threshold is worth for this job
        for k, threshold in enumerate(self.thresholds):
            if threshold * per > job.attained_before and gpus:
                at = max(job.start + (threshold * per - job.attained_before) / gpus, protected)
                heapq.heappush(self._crossings, (at, self.state.seq[job.spec.id], job.spec.id, job.start, k + 1))

    def stopped(self, job: RunningJob) -> None:
        level = self._level_of.pop(job.spec.id)
        if job.spec.preemptible:
            self._by_level[level].remove(job)

    def next_crossing(self, now: float) -> float | None:
        """The next time a running job crosses a queue threshold (entries of stopped runs are dropped)."""
        self._advance(now)
        heap, running = self._crossings, self.state.running
        while heap:
            at, _, jid, start, _ = heap[0]
            run = running.get(jid)
            if at > now and run is not None and run.start == start:
                return at
            heapq.heappop(heap)
        return None

    def wake_at(self, now: float) -> float | None:
        if not self.queue:
            return None
        times = [self.next_crossing(now), self._protected_until]
        for j in self.by_promotion:
            at = self.promote_at(j)
            if at > now:
                times.append(at)
                break
        future = [t for t in times if t is not None and t > now]
        return min(future) if future else None
