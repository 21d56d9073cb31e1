"""``fairshare``: orgs take turns by dominant share; quotas are guaranteed and reclaimed from borrowers.

* Usage: per org and GPU type, GPU-seconds decayed with a half-life (``usage_half_life``).
* Share of an org on type t: (decayed usage / τ + GPUs held now) / (GPUs of type t) / weight, where
  τ = half-life / ln 2 (so a steady allocation of A GPUs contributes A twice); the dominant share is the
  largest over types. Counting the GPUs held now lets shares move inside one cycle, so one org does not
  take every free GPU at once.
* Order: within a priority class, the org whose next job stays within its quota comes before borrowers;
  among those, the lowest dominant share first; each org's own jobs in submission order. A job that does
  not fit is skipped.
* Reclaim: a job within its org's quota that does not fit may preempt preemptible jobs of orgs holding more
  than their own quota of that GPU type (the most over-quota org first, its newest jobs first).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterator

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
        #: GPUs of jobs that stopped since the last cycle, per org and type: they were held until then.
        self.gone: dict[str, Counter[str]] = {}
        #: runs reported by :meth:`ran_between`: (org, type, GPUs, start, end)
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
        self.gone.setdefault(job.spec.org, Counter())[job.placement.gpu_type] += job.placement.gpus
        self._shares.pop(job.spec.org, None)

    def ran_between(self, org: str, gpu_type: str, gpus: int, start: float, end: float) -> None:
        self.ran.append((org, gpu_type, gpus, start, end))

    def prepare(self, now: float) -> None:
        """Decay usage to ``now`` and add the GPU-seconds held since the last cycle.

        Jobs that stopped since the last cycle count as held until ``now`` (exact in the simulator, where
        jobs stop at event times and a cycle follows at once)."""
        memory = self.state.usage
        if memory.last is not None and now > memory.last:
            dt = now - memory.last
            decay = math.exp(-dt / self.tau)
            # Exact integral of a constant allocation A under exponential decay: A·τ·(1 − e^(−dt/τ)).
            gain = self.tau * (1.0 - decay)
            empty: Counter[str] = Counter()
            # Every org with usage decays, also one holding nothing now (a scheduler built per cycle, as the live
            # loop's, knows only the orgs it holds jobs of).
            for org in set(memory.usage) | set(self.state.used) | set(self.gone):
                used = self.state.used.get(org, empty)
                gone = self.gone.get(org, empty)
                u = memory.usage.setdefault(org, {})
                for t in set(u) | set(used) | set(gone):
                    u[t] = u.get(t, 0.0) * decay + (used.get(t, 0) + gone.get(t, 0)) * gain
        self.gone.clear()
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

    def within_quota(self, job: PendingJob) -> bool:
        org = self.state.org(job.spec.org)
        if not org.quota:
            return False
        used = self.state.used_of(job.spec.org)
        types = [job.spec.gpu_type] if job.spec.gpu_type else list(self.capacity)
        return any(used[t] + job.spec.num_gpus <= org.guaranteed(t) for t in types)

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
        return True

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

    def victims(self, job: PendingJob, now: float) -> list[RunningJob]:
        out = self.priority_victims(job)
        if not self.within_quota(job):
            return out
        seen = {r.spec.id for r in out}
        org, gpu_type, prio = job.spec.org, job.spec.gpu_type, job.spec.priority
        out.extend(
            r for r in self.borrowed()
            if not r.preempting and r.spec.org != org and r.spec.priority <= prio
            and gpu_type in (None, r.placement.gpu_type) and r.spec.id not in seen
        )
        return out
