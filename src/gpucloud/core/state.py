"""The scheduler's in-memory state: the free index, pending and running jobs, and each org's GPU use."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sortedcontainers import SortedKeyList, SortedList

from gpucloud.core.free_index import FreeIndex
from gpucloud.core.lifetime import span
from gpucloud.core.types import PendingJob, RunningJob
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import Shape
from gpucloud.model.org import Org, default_org

if TYPE_CHECKING:
    from gpucloud.core.bookings import Booking, Fence
    from gpucloud.core.quiet import Quiet
    from gpucloud.core.reservation import Reservation
    from gpucloud.core.services import ServiceSet


@dataclass
class SchedulerConfig:
    """Tunables of the core; the defaults are documented in ``docs/scheduling-cycle.md``."""

    #: fairshare: half-life of the decayed GPU-hour usage (seconds).
    usage_half_life: float = 7 * 24 * 3600.0
    #: las: attained-service thresholds between the queues (GPU-seconds, or seconds of run time when
    #: ``las_gpu_time`` is off).
    las_thresholds: tuple[float, ...] = (3_600.0, 36_000.0)
    #: las: service is GPUs × run time (Tiresias' 2D-LAS); off (the default): run time alone — on the Philly trace
    #: it gives multi-GPU jobs a fairer turn, a lower mean JCT and less lost work (docs/scheduling-cycle.md).
    las_gpu_time: bool = False
    #: las: a job that waited at least this many times its executed time (its run time since it last entered
    #: the top queue) is promoted to the top queue with its attained service reset (Tiresias' STARVELIMIT).
    las_starve_limit: float = 8.0
    #: las: a job runs at least this long (seconds) before a job of its own priority class may preempt it.
    las_min_run: float = 1800.0
    #: how many blocked jobs per cycle may look for victims to preempt.
    max_preemption_attempts: int = 32
    #: fairshare, las, srtf: a job waiting this long (seconds) goes first and gets a reservation
    #: (:mod:`gpucloud.core.aging`).
    starve_after: float = 24 * 3600.0
    #: las: a job waiting this long (seconds) goes first in its priority class (:mod:`gpucloud.core.aging`).
    overdue_after: float = 7 * 24 * 3600.0


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
    #: per shape class: the spans (walltime + grace, :func:`~gpucloud.core.lifetime.span`) of its pending jobs,
    #: sorted (a cycle can tell when a class is done)
    class_spans: dict[int, SortedList] = field(default_factory=dict)
    #: GPUs each org holds, per GPU type (jobs in their grace period included).
    used: dict[str, Counter[str]] = field(default_factory=dict)
    #: pending job -> the running jobs being preempted for it.
    nominated: dict[str, set[str]] = field(default_factory=dict)
    #: submission sequence numbers (the last tie-break of every order; see :attr:`PendingJob.seq`).
    seq: dict[str, int] = field(default_factory=dict)
    #: approved advance reservations by id, and the nodes that are down (see :mod:`gpucloud.core.bookings`)
    bookings: dict[str, Booking] = field(default_factory=dict)
    down: frozenset[int] = frozenset()
    #: during a cycle with bookings or down nodes: what it hides from the index
    fence: Fence | None = None
    #: declared services and their replicas (:mod:`gpucloud.core.services`); None: no service was ever declared
    services: ServiceSet | None = None
    #: what the policy needs kept (set by the scheduler): :attr:`by_queued` (policies that skip jobs that do not
    #: fit), :attr:`class_spans` (all but strict FIFO, which never skips a job) and :attr:`by_end`
    track_waits: bool = True
    track_spans: bool = True
    #: :attr:`by_end` is kept (all but strict FIFO, which plans no reservation)
    track_ends: bool = True
    #: running jobs by the latest time they may hold their GPUs (:attr:`RunningJob.held_until`), for EASY
    #: reservations; a job's place changes only when it is told to stop (:meth:`Policy.set_stop`)
    by_end: SortedKeyList = field(default_factory=lambda: SortedKeyList(key=lambda r: (r.held_until, r.seq or 0)))
    #: counts every change of :attr:`by_end`, and the last head reservation planned with the free index's and
    #: this version it was planned on — a cache: a reservation depends on nothing else but the time
    ends_version: int = 0
    reservation_cache: tuple[tuple[object, ...], Reservation | None] | None = None
    #: pending jobs by the time they entered the queue (:mod:`gpucloud.core.aging`)
    by_queued: SortedKeyList = field(
        default_factory=lambda: SortedKeyList(key=lambda j: (j.queued_since or 0.0, j.seq or 0)))
    #: the last cycle found nothing to do and may be skipped until something changes (:mod:`gpucloud.core.quiet`)
    quiet: Quiet | None = None
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
        if self.track_waits:
            self.by_queued.add(job)
        if self.track_spans:
            cls = self.shape_class[job.spec.id]
            spans = self.class_spans.get(cls)
            if spans is None:
                spans = self.class_spans[cls] = SortedList()
            spans.add(span(job.spec))

    def unqueued(self, job: PendingJob) -> None:
        """Book-keeping of a job leaving the queue (admitted or cancelled)."""
        self.count_pending(job.spec.priority, -1)
        if self.track_waits:
            self.by_queued.remove(job)
        if self.track_spans:
            self.class_spans[self.shape_class[job.spec.id]].remove(span(job.spec))

    def count_pending(self, priority: int, delta: int) -> None:
        counts = self.pending_priorities
        counts[priority] += delta
        if not counts[priority]:
            del counts[priority]

    def holding(self, run: RunningJob) -> None:
        """Book-keeping of a job that took its GPUs."""
        self.running[run.spec.id] = run
        if self.track_ends:
            self.by_end.add(run)
            self.ends_version += 1
        self.used_of(run.spec.org)[run.placement.gpu_type] += run.placement.gpus
        self.running_priorities[run.spec.priority] += 1

    def dropped(self, job_id: str) -> RunningJob:
        """Book-keeping of a job that gave its GPUs back (the caller gives them to the index)."""
        run = self.running.pop(job_id)
        if self.track_ends:
            self.by_end.remove(run)
            self.ends_version += 1
        self.used_of(run.spec.org)[run.placement.gpu_type] -= run.placement.gpus
        prio = self.running_priorities
        prio[run.spec.priority] -= 1
        if not prio[run.spec.priority]:
            del prio[run.spec.priority]
        return run

    def number(self, job_id: str, seq: int | None) -> int:
        """Give ``job_id`` its sequence number: ``seq`` when the caller has one, else the next free one (a job
        keeps its number while the scheduler knows it)."""
        known = self.seq.get(job_id)
        if known is not None:
            return known
        if seq is None:
            self._next_seq += 1
            seq = self._next_seq
        else:
            self._next_seq = max(self._next_seq, seq)
        self.seq[job_id] = seq
        return seq
