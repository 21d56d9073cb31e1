"""Services in the scheduling core: replicas served before the queue, on their sites, ahead of each rise.

Each cycle, before the queue is walked (:func:`serve`, called by :func:`gpucloud.core.cycle.run_cycle`):

1. **Falls.** A service running more replicas than it wants now (:func:`gpucloud.model.demand.wanted`: the most
   its demand asks for within its ramp-up lead) stops the extra ones, highest slot first; their GPUs go back to
   the free index at once, so the queue of this very cycle may use them. A service no longer declared stops all.
2. **Rises**, services in order (``ran`` first, then ``inference``; by name within a class):
   * replicas due now start on free GPUs of the service's nodes (best fit, one node each);
   * every further replica due within the *horizon* ``H`` (the longest grace period of a job on the services'
     nodes) gets GPUs planned on one node (:mod:`gpucloud.core.service_plan`): GPUs free now or held by runs
     that end by the time ``S`` the replica must start, else preemptible runs chosen to lose the least work.
     A victim with grace ``g`` is preempted at ``S - g`` (now when that has passed), so its grace ends when the
     replica must start. Free GPUs planned for a replica are hidden from the queue for the rest of the cycle.
3. **Wake**: the cycle asks to run again at the next victim's signal time, the next replica start, and when
   the next change of each demand enters the horizon.

A ``ran`` replica is never preempted and runs only on its nodes; an ``inference`` replica may be stopped for a
``ran`` one (only when batch victims are not enough). Replicas are held outside the running jobs: the queue's
preemption and backfill never see them as victims or as ending. Nothing here is kept but the replicas
themselves (:class:`Replica`): the plan is made again from the state in every cycle, so a driver rebuilt from
the database decides the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from gpucloud.core.free_index import FreeIndex
from gpucloud.core.lifetime import stopping
from gpucloud.core.placement import find_placement
from gpucloud.core.policies.base import Policy
from gpucloud.core.service_plan import Need, Planner
from gpucloud.core.types import CycleResult, Placement, Preemption, RunningJob
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.demand import changes, rises, wanted
from gpucloud.model.job import Shape
from gpucloud.model.service import ServiceClass, ServiceSpec

#: the ``for_job`` (and ``booking``) of a preemption that makes room for a service (followed by its name)
SERVICE_VICTIM = "service:"


@dataclass(slots=True)
class Replica:
    """Replica ``slot`` (0, 1, ...) of ``service`` holds ``placement`` since ``start``."""

    service: str
    slot: int
    placement: Placement
    start: float


@dataclass(frozen=True, slots=True)
class ReplicaChange:
    """A replica started or stopped in a cycle, and why."""

    service: str
    slot: int
    placement: Placement
    reason: str


@dataclass
class ServiceSet:
    """The declared services (in order of service) and their running replicas."""

    cluster: Cluster
    specs: list[ServiceSpec] = field(default_factory=list)
    replicas: dict[str, dict[int, Replica]] = field(default_factory=dict)
    #: every node some service may use
    nodes: frozenset[int] = frozenset()

    def declare(self, specs: Iterable[ServiceSpec]) -> None:
        """The services in force (replacing those before; replicas of a service no longer declared stop at the
        next cycle)."""
        specs = sorted(specs, key=lambda s: (s.cls.rank, s.name))
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise InputError("name", "two services have the same name", next(n for n in names if names.count(n) > 1))
        n = len(self.cluster.nodes)
        for s in specs:
            if max(s.nodes) >= n or min(s.nodes) < 0:
                raise InputError("sites", "a node index is outside the cluster", s.name)
        self.specs = specs
        self.nodes = frozenset(n for s in specs for n in s.nodes)

    def all(self) -> list[Replica]:
        return [r for by_slot in self.replicas.values() for r in by_slot.values()]

    def count(self, name: str) -> int:
        return len(self.replicas.get(name, ()))


@dataclass
class Served:
    """What :func:`serve` leaves for the end of the cycle: GPUs hidden from the queue (to give back), the wake
    time, and the first replica start not planned yet, of any service (for runs admitted later in the cycle)."""

    hidden: list[tuple[int, int]] = field(default_factory=list)
    wake_at: float | None = None
    next_start: float | None = None

    def wake(self, t: float, now: float) -> None:
        if t > now and (self.wake_at is None or t < self.wake_at):
            self.wake_at = t


def serve(services: ServiceSet, index: FreeIndex, running: dict[str, RunningJob], policy: Policy, now: float,
          result: CycleResult) -> Served:
    """Steps 1-3 of the module for one cycle; records replica starts and stops and preemptions in ``result``."""
    served = Served()
    _falls(services, index, now, result)
    planner = Planner(services, index, running, now, services.cluster.limits.max_grace_s)
    horizon = planner.horizon
    for spec in services.specs:
        _start_due(services, spec, index, now, result)
        have = services.count(spec.name)
        for start in rises(spec.demand, now, have, spec.lead, now + horizon):
            choice = planner.plan(Need(spec, start))
            if choice is None:
                continue
            for victim in choice.victims:
                signal = start - victim.spec.grace
                if signal <= now:
                    if not stopping(victim, now):
                        _preempt(policy, victim, now)
                        result.preemptions.append(Preemption(
                            victim.spec.id, SERVICE_VICTIM + spec.name,
                            f"service {spec.name} needs its GPUs by t={start:.0f}", SERVICE_VICTIM + spec.name))
                else:
                    served.wake(signal, now)
            stopped = False
            for rep in choice.replicas:
                if start <= now:
                    _stop(services, index, rep, f"preempted for ran service {spec.name}", result)
                    stopped = True
            if stopped:  # the GPUs are free now: the replica starts at once
                planner.unhide(choice)
                _start_due(services, spec, index, now, result)
            served.wake(start, now)
        _wake_for_demand(spec, now, horizon, served)
    served.hidden = planner.hide()
    return served


def after_queue(services: ServiceSet, served: Served, result: CycleResult, grace_of: dict[str, float],
                now: float) -> None:
    """A run admitted in this cycle onto a service's node must be signalled its grace before the next replica
    start there: wake then."""
    if served.next_start is None:
        return
    for a in result.admissions:
        if any(n in services.nodes for n, _ in a.placement.nodes):
            served.wake(served.next_start - grace_of.get(a.job_id, 0.0), now)


def _falls(services: ServiceSet, index: FreeIndex, now: float, result: CycleResult) -> None:
    declared = {s.name: s for s in services.specs}
    for name in sorted(services.replicas):
        spec = declared.get(name)
        keep = 0 if spec is None else wanted(spec.demand, now, spec.lead)
        by_slot = services.replicas[name]
        for slot in sorted(by_slot, reverse=True)[:max(0, len(by_slot) - keep)]:
            why = "service deleted" if spec is None else f"demand fell to {keep}"
            _stop(services, index, by_slot[slot], why, result)


def _stop(services: ServiceSet, index: FreeIndex, rep: Replica, why: str, result: CycleResult) -> None:
    by_slot = services.replicas[rep.service]
    del by_slot[rep.slot]
    if not by_slot:
        del services.replicas[rep.service]
    for node, mask in rep.placement.masks:
        index.give(node, mask)
    result.replica_stops.append(ReplicaChange(rep.service, rep.slot, rep.placement, why))


def _start_due(services: ServiceSet, spec: ServiceSpec, index: FreeIndex, now: float, result: CycleResult) -> None:
    """Start the replicas the service wants now on free GPUs of its nodes."""
    missing = wanted(spec.demand, now, spec.lead) - services.count(spec.name)
    if missing <= 0:
        return
    sub = FreeIndex.only(services.cluster, {n: index.mask[n] for n in spec.nodes if index.mask[n]})
    shape = Shape(1, spec.gpus)
    by_slot = services.replicas.setdefault(spec.name, {})
    for _ in range(missing):
        placement = find_placement(sub, spec.gpu_type, shape)
        if placement is None:
            break
        for node, mask in placement.masks:
            sub.take(node, mask)
            index.take(node, mask)
        slot = next(i for i in range(len(by_slot) + 1) if i not in by_slot)
        by_slot[slot] = Replica(spec.name, slot, placement, now)
        result.replica_starts.append(ReplicaChange(spec.name, slot, placement, f"demand {spec.demand.at(now)}"))
    if not by_slot:
        del services.replicas[spec.name]


def _preempt(policy: Policy, run: RunningJob, now: float) -> None:
    """As :func:`gpucloud.core.cycle.preempt` for a victim of a service (no pending job waits for it)."""
    run.preempting = True
    run.preempted_for = None
    policy.set_stop(run, now)


def _wake_for_demand(spec: ServiceSpec, now: float, horizon: float, served: Served) -> None:
    """Wake when the demand's next change may matter: a fall at its time, a rise ``lead`` before, and the
    planning of a rise ``horizon`` before that."""
    for c in changes(spec.demand, now, math.inf):
        for t in (c - spec.lead - horizon, c - spec.lead, c):
            served.wake(t, now)
        if c - spec.lead - horizon > now:
            if served.next_start is None or c - spec.lead < served.next_start:
                served.next_start = c - spec.lead
            break


def is_ran(spec: ServiceSpec) -> bool:
    return spec.cls is ServiceClass.RAN
