"""The cycle driver: the one object through which the simulator and the live control loop drive the core.

It owns the :class:`~gpucloud.core.scheduler.Scheduler` across cycles, takes what happened (arrivals,
cancellations, ends, stops after preemption) and the clock, applies the end-of-walltime and grace rule
(:mod:`gpucloud.core.lifetime`), runs the cycle and returns its decisions. Only how time advances differs
between the two callers: the simulator jumps from event to event, the live loop reads a clock.

Pure, like the rest of the core: no I/O, no clock of its own (``now`` is passed in every call; a ``now`` before
one already seen is held at that one, so decisions never go back in time).

Everything the driver keeps across cycles is plain data the live service stores (:class:`DriverState`, from
:meth:`Driver.export`): per job its spec, sequence number (the service's job id), attained service, queue time;
per running job its placement, run start, stop time, whether it is being preempted and for which pending job,
and whether its cancellation was requested; fair share's decayed usage; the runs that stopped since the last
cycle; bookings and down nodes. :meth:`Driver.restore` rebuilds a driver from it that decides exactly as the
one that lived through the history (the simulator proves it: ``SimConfig(rebuild_every_cycle=True)`` gives
the same replay). See ``docs/scheduling-cycle.md``.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gpucloud.core.bookings import Booking
from gpucloud.core.lifetime import StopKind, deadline, held_until
from gpucloud.core.placement import take
from gpucloud.core.scheduler import Scheduler
from gpucloud.core.services import Replica, ServiceSet
from gpucloud.core.state import DecayedUsage, SchedulerConfig
from gpucloud.core.types import CycleResult, PendingJob, RunningJob
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.org import Org
from gpucloud.model.service import ServiceSpec


class SignalKind(StrEnum):
    TERM = "term"  # stop now; the grace period starts
    KILL = "kill"  # the grace period is over


@dataclass(frozen=True, slots=True)
class Signal:
    """Send ``kind`` to the processes of ``job_id``, because of ``why``."""

    job_id: str
    kind: SignalKind
    why: StopKind


@dataclass(frozen=True, slots=True)
class EndedRun:
    """A run that stopped since the last cycle: fair share counts the GPUs it held until it stopped."""

    org: str
    gpu_type: str
    gpus: int
    start: float
    end: float


@dataclass
class DriverState:
    """What a driver keeps across cycles, as plain data (see the module): pending and running jobs in sequence
    order, fair share's usage, the runs ended since the last cycle, bookings, down nodes, the last time seen."""

    pending: list[PendingJob] = field(default_factory=list)
    running: list[RunningJob] = field(default_factory=list)
    usage: DecayedUsage = field(default_factory=DecayedUsage)
    ended: list[EndedRun] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)
    down: tuple[int, ...] = ()
    now: float = -math.inf
    #: declared services and their running replicas (:mod:`gpucloud.core.services`)
    services: list[ServiceSpec] = field(default_factory=list)
    replicas: list[Replica] = field(default_factory=list)


#: signal heap entries: (time, 0 = TERM / 1 = KILL, sequence number, job id, run start)
_Entry = tuple[float, int, int, str, float]


class Driver:
    """Owns the scheduling core across cycles; see the module."""

    def __init__(self, cluster: Cluster, orgs: Mapping[str, Org] | None = None, policy: str = "fifo",
                 config: SchedulerConfig | None = None, usage: DecayedUsage | None = None) -> None:
        self.scheduler = Scheduler(cluster, orgs, policy, config, usage)
        self.cluster = cluster
        #: the latest time seen
        self.now = -math.inf
        #: when each run's next signals are due; built on the first call of :meth:`signals` (a caller that never
        #: asks, as the simulator, which applies the same rule through :mod:`gpucloud.core.lifetime`, pays nothing)
        self._signals: list[_Entry] | None = None
        #: (job id, run start) of the runs already sent SIGTERM / SIGKILL
        self._termed: set[tuple[str, float]] = set()
        self._killed: set[tuple[str, float]] = set()
        self._ended: list[EndedRun] = []
        self._bookings: list[Booking] = []
        self._down: tuple[int, ...] = ()

    # -- state ------------------------------------------------------------------------------------------------
    @classmethod
    def restore(cls, cluster: Cluster, orgs: Mapping[str, Org] | None, policy: str,
                config: SchedulerConfig | None, state: DriverState) -> Driver:
        """A driver holding ``state`` (its jobs, usage and ended runs are copied, not shared)."""
        d = cls(cluster, orgs, policy, config, copy.deepcopy(state.usage))
        d.now = state.now
        d.set_bookings(state.bookings)
        d.set_down(state.down)
        if state.services or state.replicas:
            d.set_services(state.services)
            for rep in state.replicas:
                d.restore_replica(dataclasses.replace(rep))
        for run in state.running:
            d.restore_running(dataclasses.replace(run))
        for e in state.ended:
            d.scheduler.ran_between(e.org, e.gpu_type, e.gpus, e.start, e.end)
        d._ended = list(state.ended)
        for job in state.pending:
            d.submit(dataclasses.replace(job))
        return d

    def export(self) -> DriverState:
        """What the driver keeps across cycles, copied (see the module)."""
        s = self.scheduler.state
        svc = s.services
        return DriverState(
            sorted((dataclasses.replace(j) for j in s.pending.values()), key=lambda j: j.seq or 0),
            sorted((dataclasses.replace(r) for r in s.running.values()), key=lambda r: r.seq or 0),
            copy.deepcopy(s.usage), list(self._ended), list(self._bookings), self._down, self.now,
            [] if svc is None else list(svc.specs),
            [] if svc is None else sorted((dataclasses.replace(r) for r in svc.all()),
                                          key=lambda r: (r.service, r.slot)))

    def _clock(self, now: float) -> float:
        if now > self.now:
            self.now = now
        return self.now

    # -- what happened ------------------------------------------------------------------------------------------
    def set_bookings(self, bookings: Iterable[Booking]) -> None:
        """The approved advance reservations (replacing those set before)."""
        self._bookings = list(bookings)
        self.scheduler.set_bookings(self._bookings)

    def set_down(self, nodes: Iterable[int]) -> None:
        """The nodes (indices) that take no new job."""
        self._down = tuple(sorted(set(nodes)))
        self.scheduler.set_down(self._down)

    def set_services(self, specs: Iterable[ServiceSpec]) -> None:
        """The services in force (replacing those set before); see :mod:`gpucloud.core.services`."""
        state = self.scheduler.state
        if state.services is None:
            state.services = ServiceSet(self.cluster)
        state.services.declare(specs)

    def restore_replica(self, replica: Replica) -> None:
        """A service replica that holds GPUs already (a driver being rebuilt)."""
        state = self.scheduler.state
        if state.services is None:
            state.services = ServiceSet(self.cluster)
        by_slot = state.services.replicas.setdefault(replica.service, {})
        if replica.slot in by_slot:
            raise InputError("slot", f"service {replica.service} has this replica already", replica.slot)
        take(state.index, replica.placement)
        by_slot[replica.slot] = replica

    def submit(self, job: PendingJob) -> None:
        """A job arrived (or came back to the queue, in a driver being rebuilt)."""
        self.scheduler.submit(job)

    def restore_running(self, run: RunningJob) -> None:
        """A job that holds GPUs already (a driver being rebuilt); see :meth:`Scheduler.restore_running`."""
        self.scheduler.restore_running(run)
        self._watch(run)

    def cancel(self, job_id: str, now: float) -> bool:
        """The owner cancelled ``job_id``. A pending job leaves the queue at once (True); a running one is
        stopped: SIGTERM now, SIGKILL after its grace period (:meth:`signals`), and the caller reports its end."""
        now = self._clock(now)
        if job_id in self.scheduler.state.pending:
            self.scheduler.cancel_pending(job_id)
            return True
        run = self.scheduler.state.running[job_id]
        run.cancel_requested = True
        if run.stop_at is None and now < deadline(run):
            self.scheduler.policy.set_stop(run, now)
            self._watch(run)
        return False

    def finished(self, job_id: str, now: float) -> RunningJob:
        """The processes of a running job are gone for good (it succeeded, failed, timed out, was cancelled or
        killed): its GPUs are free."""
        now = self._clock(now)
        run = self.scheduler.release(job_id, now)
        self._over(run, now)
        return run

    def requeue(self, job_id: str, now: float, *, attained: float | None = None,
                remaining: float | None = None) -> PendingJob:
        """A preempted job stopped: its GPUs are free and it waits again, with the service it kept."""
        now = self._clock(now)
        self._over(self.scheduler.state.running[job_id], now)
        return self.scheduler.requeue(job_id, now, attained=attained, remaining=remaining)

    def _over(self, run: RunningJob, now: float) -> None:
        self._ended.append(EndedRun(run.spec.org, run.placement.gpu_type, run.placement.gpus, run.start, now))
        if self._signals is not None:
            key = (run.spec.id, run.start)
            self._termed.discard(key)
            self._killed.discard(key)

    def undo_admission(self, job_id: str, now: float) -> RunningJob:
        """Take back a job admitted in the last cycle that the caller could not start (e.g. its project cannot
        pay): its GPUs are free and the driver forgets it; the caller queues it again when it may run."""
        return self.scheduler.release(job_id, self._clock(now))

    # -- decisions --------------------------------------------------------------------------------------------
    def cycle(self, now: float, *, explain: bool = False) -> CycleResult:
        """One scheduling cycle at ``now``: admissions, preemptions (each victim has its stop and the job it
        is preempted for set), wait reasons, and ``wake_at``."""
        now = self._clock(now)
        result = self.scheduler.cycle(now, explain=explain)
        self._ended.clear()
        running = self.scheduler.state.running
        for p in result.preemptions:
            self._watch(running[p.job_id])
        for a in result.admissions:
            self._watch(running[a.job_id])
        return result

    def signals(self, now: float) -> list[Signal]:
        """The signals due by ``now`` and not sent yet, in time order: SIGTERM when a run reaches its walltime or
        is preempted or cancelled, SIGKILL when its grace period after that is over (each once per run; a
        restored driver may repeat those whose time had passed)."""
        now = self._clock(now)
        running, out = self.scheduler.state.running, []
        if self._signals is None:
            self._signals = []
            for r in running.values():
                self._watch(r)
        heap = self._signals
        assert heap is not None
        while heap and heap[0][0] <= now:
            at, kind, _, jid, start = heapq.heappop(heap)
            run = running.get(jid)
            if run is None or run.start != start:
                continue  # the run is over
            key = (jid, start)
            why = StopKind.CANCEL if run.cancel_requested else (
                StopKind.PREEMPT if run.preempting else StopKind.WALLTIME)
            if kind == 0:
                if key in self._termed or (run.stop_at is not None and run.stop_at != at):
                    continue
                if run.stop_at is None:  # the walltime is reached: the run is stopping from now
                    self.scheduler.policy.set_stop(run, at)
                self._termed.add(key)
                out.append(Signal(jid, SignalKind.TERM, why))
            elif key not in self._killed and held_until(run) == at:
                self._killed.add(key)
                out.append(Signal(jid, SignalKind.KILL, why))
        return out

    def _watch(self, run: RunningJob) -> None:
        """Note when the run's next SIGTERM and SIGKILL are due."""
        if self._signals is None:
            return
        seq = run.seq or 0
        term = run.stop_at if run.stop_at is not None else deadline(run)
        heapq.heappush(self._signals, (term, 0, seq, run.spec.id, run.start))
        heapq.heappush(self._signals, (held_until(run), 1, seq, run.spec.id, run.start))
