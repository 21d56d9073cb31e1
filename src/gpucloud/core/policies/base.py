"""What a policy decides: the queue order, what a blocked job does to the jobs behind it, and which running
jobs it may preempt. Priority classes apply under every policy: a job may preempt running, preemptible jobs
of a lower priority class.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from enum import Enum
from typing import ClassVar, TypeVar

from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob, RunningJob
from gpucloud.registry import Registry

K = TypeVar("K")


class Mode(Enum):
    """What a job that cannot start does to the jobs behind it."""

    STRICT = "strict"  # blocks them all (FIFO)
    BACKFILL = "backfill"  # gets a reservation; later jobs may start if they do not delay it
    SKIP = "skip"  # nothing: later jobs are tried in turn


class Policy:
    """Base class. Subclasses set ``name`` and ``mode`` and override what they change."""

    name: ClassVar[str] = ""
    mode: ClassVar[Mode] = Mode.SKIP
    #: True when a job later in the order can never preempt more than an earlier one could (so a failed
    #: preemption of a shape means larger shapes later fail too).
    monotone_victims: ClassVar[bool] = True
    #: True when the policy's order depends on past usage (:class:`~gpucloud.core.state.DecayedUsage`)
    uses_usage: ClassVar[bool] = False
    #: True when a job waiting ``overdue_after`` goes first in its class (:mod:`gpucloud.core.aging`)
    bounds_waits: ClassVar[bool] = False

    def __init__(self, state: SchedulerState) -> None:
        self.state = state
        self._by_priority: list[RunningJob] | None = None

    def begin_cycle(self, now: float) -> None:
        """Drop what the last cycle cached (subclasses extend it), then :meth:`prepare` runs."""
        self._by_priority = None

    # -- queue bookkeeping, called by the scheduler --------------------------------------------------------
    def enqueue(self, job: PendingJob) -> None:
        raise NotImplementedError

    def dequeue(self, job: PendingJob) -> None:
        raise NotImplementedError

    def started(self, job: RunningJob) -> None:
        """A job took its GPUs."""

    def stopped(self, job: RunningJob) -> None:
        """A job gave its GPUs back."""

    def set_stop(self, job: RunningJob, at: float) -> None:
        """A running job was told to stop at ``at`` (preempted, cancelled, walltime reached): its
        :attr:`RunningJob.held_until` may move earlier, so it is filed again in :attr:`SchedulerState.by_end`."""
        if not self.state.track_ends:
            job.stop_at = at
            return
        by_end = self.state.by_end
        by_end.remove(job)
        job.stop_at = at
        by_end.add(job)
        self.state.ends_version += 1

    def ran_between(self, org: str, gpu_type: str, gpus: int, start: float, end: float) -> None:
        """A run that is over used ``gpus`` GPUs from ``start`` to ``end`` (the scheduler reports each run that
        stops; a caller that builds a scheduler per cycle reports the runs that stopped since the last one)."""

    # -- the cycle -------------------------------------------------------------------------------------
    def prepare(self, now: float) -> None:
        """Bring time-dependent bookkeeping (usage, attained service) up to ``now``."""

    def order(self, now: float) -> Iterator[PendingJob]:
        """Pending jobs, most important first. The queue is not changed while this is iterated."""
        raise NotImplementedError

    def queue_key(self, job: PendingJob) -> tuple[float, ...]:
        """A pending job's place in a queue kept sorted (lower first); a policy that keeps one defines it."""
        raise NotImplementedError

    def victims(self, job: PendingJob, now: float) -> Iterator[RunningJob]:
        """Running jobs ``job`` may preempt, the ones to preempt first first, by tier (:meth:`victim_tier`)
        first; produced as they are needed (the victim search often stops after a few)."""
        return self.priority_victims(job)

    def victim_class(self, job: PendingJob) -> Hashable | None:
        """Jobs with equal victim classes have the same candidate victims for each of their shapes (jobs admitted
        in the cycle aside), so once one found none in a cycle the others need not look. None: no such class
        (a policy whose victims shrink along its order, ``monotone_victims``, needs none)."""
        return None

    def victim_tier(self, run: RunningJob) -> tuple[float, ...]:
        """Victims of a lower tier are always taken before those of a higher one (among them, the fewest GPUs:
        :mod:`gpucloud.core.preemption`). By default the tier is the victim's priority class."""
        return (run.spec.priority,)

    def start_attained(self, job: PendingJob, now: float) -> float:
        """The attained service a run of ``job`` admitted at ``now`` starts from (LAS resets it on promotion)."""
        return job.attained

    def running_by_end(self) -> Iterable[RunningJob]:
        """Running jobs by the latest time they may hold their GPUs (for backfill reservations)."""
        ordered: Iterable[RunningJob] = self.state.by_end
        return iter(ordered)

    def wake_at(self, now: float) -> float | None:
        """A future time at which a cycle could decide differently although nothing else happens."""
        return None

    def may_preempt(self) -> bool:
        """False when no pending job could preempt anything (lets a cycle stop early on a full cluster)."""
        running, pending = self.state.running_priorities, self.state.pending_priorities
        return bool(running) and bool(pending) and max(pending) > min(running)

    # -- shared rule ------------------------------------------------------------------------------------
    def priority_victims(self, job: PendingJob) -> Iterator[RunningJob]:
        """Running preemptible jobs of a lower priority class: the lowest class, then the newest, first."""
        prio = job.spec.priority
        counts = self.state.running_priorities
        if not counts or min(counts) >= prio:
            return
        if self._by_priority is None:
            ranked = [r for r in self.state.running.values() if r.spec.preemptible]
            ranked.sort(key=lambda r: (r.spec.priority, -r.start, self.state.seq[r.spec.id]))
            self._by_priority = ranked
        for r in self._by_priority:
            if r.spec.priority >= prio:
                return
            if not r.preempting:
                yield r

    def ranked_victims(self, job: PendingJob, ranked: Iterable[tuple[K, RunningJob]],
                       worse: Callable[[K], bool]) -> Iterator[RunningJob]:
        """The priority victims, then the running jobs of ``job``'s own class from ``ranked`` (ordered worst
        first, by a key) while ``worse(key)`` says they rank after ``job``."""
        yield from self.priority_victims(job)
        prio = job.spec.priority
        for key, r in ranked:
            if not worse(key):
                return
            if not r.preempting and r.spec.priority == prio:
                yield r


POLICIES: Registry[type[Policy]] = Registry("policy")
