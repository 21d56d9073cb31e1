"""``fairshare``: orgs take turns by dominant share; quotas are guaranteed and reclaimed from borrowers.

* Usage: per org and GPU type, GPU-seconds decayed with a half-life (``usage_half_life``).
* Share of an org on type t: (decayed usage / τ + GPUs held now) / (GPUs of type t) / weight, where
  τ = half-life / ln 2 (so a steady allocation of A GPUs contributes A twice); the dominant share is the
  largest over types. Counting the GPUs held now lets shares move inside one cycle, so one org does not
  take every free GPU at once.
* Order: within a priority class, the org whose next job stays within its quota (of some GPU type the job
  may use) comes before borrowers; among those, the lowest dominant share first; each org's own jobs in
  submission order. A job that does not fit is skipped.
* Reclaim, per GPU type: a job that does not fit may preempt preemptible jobs (of its class or a lower one)
  of orgs holding more than their own quota of a type T, on T only, and only if its own org stays within its
  guarantee of T with it. Among the borrowers' jobs, the victims chosen preempt the fewest GPUs and leave
  every borrower its own guarantee when they can (:mod:`gpucloud.core.preemption`); the most over-quota org,
  then its newest jobs, break ties.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Hashable, Iterator

from sortedcontainers import SortedKeyList

from gpucloud.core.policies.base import POLICIES, Mode, Policy
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob, RunningJob


@POLICIES.register("fairshare")
class FairShare(Policy):
    name = "fairshare"
    mode = Mode.SKIP
    monotone_victims = False
    uses_usage = True

    def __init__(self, state: SchedulerState) -> None:
        super().__init__(state)
        seq = state.seq
        self._key = lambda j: (j.spec.submit_time, seq[j.spec.id])
        #: priority class -> org -> that org's pending jobs in submission order
        self.queues: dict[int, dict[str, SortedKeyList]] = {}
        #: runs that stopped since the last cycle (:meth:`ran_between`): (org, type, GPUs, start, end)
        self.ran: list[tuple[str, str, int, float, float]] = []
        self._borrowed: list[RunningJob] | None = None
        self._shares: dict[str, float] = {}
        self.capacity = {t: max(1, n) for t, n in state.cluster.gpus_by_type.items()}
        self.tau = state.config.usage_half_life / math.log(2)

    def enqueue(self, job: PendingJob) -> None:
        by_org = self.queues.setdefault(job.spec.priority, {})
        q = by_org.get(job.spec.org)
        if q is None:
            q = by_org[job.spec.org] = SortedKeyList(key=self._key)
        q.add(job)

    def dequeue(self, job: PendingJob) -> None:
        by_org = self.queues[job.spec.priority]
        q = by_org[job.spec.org]
        q.remove(job)
        if not q:
            del by_org[job.spec.org]
            if not by_org:
                del self.queues[job.spec.priority]

    def started(self, job: RunningJob) -> None:
        self._shares.pop(job.spec.org, None)

    def stopped(self, job: RunningJob) -> None:
        self._shares.pop(job.spec.org, None)

    def ran_between(self, org: str, gpu_type: str, gpus: int, start: float, end: float) -> None:
        self.ran.append((org, gpu_type, gpus, start, end))

    def prepare(self, now: float) -> None:
        """Decay usage to ``now`` and add the GPU-seconds held since the last cycle: by the jobs running now, and
        by the runs that stopped since (each exactly until it stopped — the same sums whether this scheduler
        saw them stop or a scheduler built per cycle was told about them, in whatever order)."""
        memory = self.state.usage
        if memory.last is not None and now > memory.last:
            dt = now - memory.last
            decay = math.exp(-dt / self.tau)
            # Exact integral of a constant allocation A under exponential decay: A·τ·(1 − e^(−dt/τ)).
            gain = self.tau * (1.0 - decay)
            empty: Counter[str] = Counter()
            # Every org with usage decays, also one holding nothing now (a scheduler built per cycle, as the live
            # loop's, knows only the orgs it holds jobs of).
            for org in set(memory.usage) | set(self.state.used):
                used = self.state.used.get(org, empty)
                u = memory.usage.setdefault(org, {})
                for t in set(u) | set(used):
                    u[t] = u.get(t, 0.0) * decay + used.get(t, 0) * gain
        self.ran.sort(key=lambda r: (r[4], r[3], r[0], r[1], r[2]))
        for org, t, gpus, start, end in self.ran:
            # What is already counted ends at ``memory.last``; the rest, decayed to now:
            # gpus · τ · (e^(−(now−end)/τ) − e^(−(now−start)/τ)).
            start = start if memory.last is None else max(start, memory.last)
            end = min(end, now)
            if end > start:
                u = memory.usage.setdefault(org, {})
                u[t] = u.get(t, 0.0) + gpus * self.tau * (math.exp(-(now - end) / self.tau)
                                                          - math.exp(-(now - start) / self.tau))
        self.ran.clear()
        self._shares.clear()
        memory.last = now if memory.last is None else max(memory.last, now)

    def share(self, org: str) -> float:
        """The org's dominant share (cached until its GPUs or its usage change)."""
        cached = self._shares.get(org)
        if cached is None:
            cached = self._shares[org] = self._share(org)
        return cached

    def _share(self, org: str) -> float:
        weight = self.state.org(org).weight
        usage = self.state.usage.usage.get(org, {})
        used = self.state.used_of(org)
        best = 0.0
        for t, cap in self.capacity.items():
            s = (usage.get(t, 0.0) / self.tau + used.get(t, 0)) / cap
            best = max(best, s)
        return best / weight

    def quota_types(self, job: PendingJob) -> list[str]:
        """The GPU types the job may use on which its org stays within its guarantee with it."""
        org = self.state.org(job.spec.org)
        if not org.quota:
            return []
        used = self.state.used_of(job.spec.org)
        return [t for t, shape in self.state.shapes[job.spec.id] if used[t] + shape.gpus <= org.guaranteed(t)]

    def within_quota(self, job: PendingJob) -> bool:
        return bool(self.quota_types(job))

    def _org_key(self, job: PendingJob, org: str) -> tuple[bool, float]:
        return (not self.within_quota(job), self.share(org))

    def order(self, now: float) -> Iterator[PendingJob]:
        for prio in sorted(self.queues, reverse=True):
            heap: list[tuple[tuple[bool, float], str, PendingJob, Iterator[PendingJob]]] = []
            for org, q in self.queues[prio].items():
                it = iter(q)
                head = next(it)
                heap.append((self._org_key(head, org), org, head, it))
            heapq.heapify(heap)
            while heap:
                key, org, job, it = heap[0]
                fresh = self._org_key(job, org)
                if fresh != key:  # the org's share moved since it was pushed
                    heapq.heapreplace(heap, (fresh, org, job, it))
                    continue
                yield job
                nxt = next(it, None)
                if nxt is None:
                    heapq.heappop(heap)
                else:
                    heapq.heapreplace(heap, (self._org_key(nxt, org), org, nxt, it))

    def may_preempt(self) -> bool:
        """Priority preemption, or some org borrows while an org with waiting jobs has guaranteed quota left."""
        if super().may_preempt():
            return True
        state = self.state
        if not any(n > state.org(org).guaranteed(t) for org, used in state.used.items() for t, n in used.items()):
            return False
        for by_org in self.queues.values():
            for name in by_org:
                org = state.org(name)
                used = state.used_of(name)
                if any(used[t] < g for t, g in org.quota.items()):
                    return True
        return False

    def victim_class(self, job: PendingJob) -> Hashable | None:
        """Jobs of one org, class and shapes reclaim from the same borrowers."""
        return (job.spec.org, job.spec.priority, self.state.shape_class[job.spec.id])

    def begin_cycle(self, now: float) -> None:
        super().begin_cycle(now)
        self._borrowed = None

    def borrowed(self) -> list[RunningJob]:
        """Preemptible running jobs of orgs holding more than their quota of the job's GPU type: the most
        over-quota org first, then the lowest priority, then the newest. Computed once per cycle (jobs
        admitted later in the cycle are never victims of it)."""
        if self._borrowed is None:
            state = self.state
            over: dict[tuple[str, str], int] = {}
            for org, used in state.used.items():
                for t, n in used.items():
                    extra = n - state.org(org).guaranteed(t)
                    if extra > 0:
                        over[(org, t)] = extra
            out = [r for r in state.running.values()
                   if r.spec.preemptible and (r.spec.org, r.placement.gpu_type) in over]
            out.sort(key=lambda r: (-over[(r.spec.org, r.placement.gpu_type)], r.spec.priority, -r.start,
                                    state.seq[r.spec.id]))
            self._borrowed = out
        return self._borrowed

    def victims(self, job: PendingJob, now: float) -> Iterator[RunningJob]:
        """The priority victims (lower classes), then the borrowers' jobs of the job's class on the types on which
        its org stays within its guarantee."""
        yield from self.priority_victims(job)
        types = self.quota_types(job)
        if not types:
            return
        org, prio = job.spec.org, job.spec.priority
        for r in self.borrowed():
            if (not r.preempting and r.spec.org != org and r.spec.priority == prio
                    and r.placement.gpu_type in types):
                yield r
