"""The scheduler's in-memory state: the free index, pending and running jobs, and each org's GPU use."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sortedcontainers import SortedList

from gpucloud.core.free_index import FreeIndex
from gpucloud.core.types import PendingJob, RunningJob
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import Shape
from gpucloud.model.org import Org, default_org

if TYPE_CHECKING:
    from gpucloud.core.bookings import Booking, Fence
    from gpucloud.core.reservation import Reservation


@dataclass
class SchedulerConfig:
    """Tunables of the core; the defaults are documented in ``docs/scheduling-cycle.md``."""

    #: fairshare: half-life of the decayed GPU-hour usage (seconds).
    usage_half_life: float = 7 * 24 * 3600.0
    #: las: attained-service thresholds (GPU-seconds) between the queues.
    las_thresholds: tuple[float, ...] = (3_600.0, 36_000.0)
    #: las: a job queued this long (seconds) is promoted to the top queue (starvation protection).
    las_starvation: float = 8 * 3600.0
    #: how many blocked jobs per cycle may look for victims to preempt.
    max_preemption_attempts: int = 32


@dataclass
class DecayedUsage:
    """Fair share's memory: per org and GPU type, GPU-seconds decayed with the half-life, as of ``last``.

    It outlives one :class:`~gpucloud.core.scheduler.Scheduler` when the caller keeps it: the live control
    loop builds a fresh scheduler from the database every cycle and hands each the same usage.
    """

    usage: dict[str, dict[str, float]] = field(default_factory=dict)
    last: float | None = None


@dataclass
class SchedulerState:
    cluster: Cluster
    orgs: dict[str, Org]
    config: SchedulerConfig
    index: FreeIndex = field(init=False)
    usage: DecayedUsage = field(default_factory=DecayedUsage)
    pending: dict[str, PendingJob] = field(default_factory=dict)
    running: dict[str, RunningJob] = field(default_factory=dict)
    #: per job: the GPU types it may use, in the order to try them, with its shape on each.
    shapes: dict[str, list[tuple[str, Shape]]] = field(default_factory=dict)
    #: per pending job: a small integer naming its list of shapes (jobs with equal shapes share it)
    shape_class: dict[str, int] = field(default_factory=dict)
    shape_classes: dict[tuple[tuple[str, Shape], ...], int] = field(default_factory=dict)
    #: per shape class: the walltimes of its pending jobs, sorted (a cycle can tell when a class is done)
    class_walltimes: dict[int, SortedList] = field(default_factory=dict)
    #: GPUs each org holds, per GPU type (jobs in their grace period included).
    used: dict[str, Counter[str]] = field(default_factory=dict)
    #: pending job -> the running jobs being preempted for it.
    nominated: dict[str, set[str]] = field(default_factory=dict)
    #: submission sequence numbers (deterministic tie-break).
    seq: dict[str, int] = field(default_factory=dict)
    #: backfill: the last head reservation, with the index's release count when it was computed. It stays
    #: valid while no GPU was released: later admissions were checked against it (and consumed its spare).
    reservation_cache: tuple[str, int, Reservation] | None = None
    #: approved advance reservations by id, and the nodes that are down (see :mod:`gpucloud.core.bookings`)
    bookings: dict[str, Booking] = field(default_factory=dict)
    down: frozenset[int] = frozenset()
    #: during a cycle with bookings or down nodes: what it hides from the index
    fence: Fence | None = None
    running_priorities: Counter[int] = field(default_factory=Counter)
    pending_priorities: Counter[int] = field(default_factory=Counter)
    _next_seq: int = 0

    def __post_init__(self) -> None:
        self.index = FreeIndex(self.cluster)

    def org(self, name: str) -> Org:
        org = self.orgs.get(name)
        if org is None:
            org = self.orgs[name] = default_org(name)
        return org

    def used_of(self, org: str) -> Counter[str]:
        c = self.used.get(org)
        if c is None:
            c = self.used[org] = Counter()
        return c

    def queued(self, job: PendingJob) -> None:
        """Book-keeping of a job entering the queue (its shape class must be known)."""
        self.count_pending(job.spec.priority, 1)
        cls = self.shape_class[job.spec.id]
        walltimes = self.class_walltimes.get(cls)
        if walltimes is None:
            walltimes = self.class_walltimes[cls] = SortedList()
        walltimes.add(job.spec.walltime)

    def unqueued(self, job: PendingJob) -> None:
        """Book-keeping of a job leaving the queue (admitted or cancelled)."""
        self.count_pending(job.spec.priority, -1)
        self.class_walltimes[self.shape_class[job.spec.id]].remove(job.spec.walltime)

    def count_pending(self, priority: int, delta: int) -> None:
        counts = self.pending_priorities
        counts[priority] += delta
        if not counts[priority]:
            del counts[priority]

    def next_seq(self) -> int:
        self._next_seq += 1
        return self._next_seq
