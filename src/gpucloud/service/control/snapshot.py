"""The database as the scheduling core sees it: one read of the version, the pending and active jobs, the orgs;
and :func:`build_driver`, which turns it into the cycle driver (``core/driver.py``) that the simulator uses too —
restored from what the database stores, it decides as one that lived through the whole history."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from gpucloud.core.driver import Driver, DriverState, EndedRun
from gpucloud.core.state import DecayedUsage, SchedulerConfig
from gpucloud.core.types import PendingJob, RunningJob, WaitReason
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec, JobState
from gpucloud.model.org import Org
from gpucloud.service import budgets, job_holds
from gpucloud.service.control import replicas
from gpucloud.service.control.txn import job_select, jobs_table
from gpucloud.service.jobs import HOLDING_STATES
from gpucloud.service.reservations import APPROVED, ReservedNodes, visible_bookings
from gpucloud.service.store.engine import scheduler_version
from gpucloud.service.store.models import NodeStateRow, ReservationRow
from gpucloud.service.store.placement import core_placement, placement_from_json
from gpucloud.service.store.tenants import load_orgs

log = logging.getLogger("gpucloud.control")

#: How the loop words a preemption in the victim's reason (the link itself is ``jobs.preempted_for``).
PREEMPTED_FOR = "preempted for job {for_job}: {why}"


#: A job as the snapshot reads it: a plain row of :func:`gpucloud.service.control.txn.job_select` (every
#: column of ``jobs`` plus ``org_name``, ``user_name``, ``project_name``), no ORM object.
JobData = Any


@dataclass
class Snapshot:
    version: int
    pending: list[JobData]
    active: list[JobData]
    orgs: dict[str, Org]
    #: approved reservations that have not ended (ids, org, GPU type, node names, window)
    reserved: list[ReservedNodes] = field(default_factory=list)
    #: names of the nodes that are down
    down: list[str] = field(default_factory=list)
    #: jobs that ended since the time asked for (fair share counts their last run): plain rows
    ended: list[JobData] = field(default_factory=list)
    #: pending jobs whose project cannot pay their hold (job id → wait reason): left out of the cycle
    cannot_pay: dict[int, str] = field(default_factory=dict)
    #: pending jobs held by their dependency or their array's throttle (job id → wait reason): left out too
    held: dict[int, str] = field(default_factory=dict)
    #: the declared services (their replicas are the active rows with a ``service_id``)
    services: list[replicas.ServiceData] = field(default_factory=list)


def read_snapshot(session: Session, ended_since: float | None = None, now: float | None = None) -> Snapshot:
    """The version first, then the rows: a change after the version read shows up as a new version later.
    Plain rows (Core selects), not ORM objects: a snapshot of thousands of pending jobs stays cheap.
    ``ended_since``: also read the jobs that ran and ended after that time. ``now``: also find the pending jobs
    whose project cannot pay them (:func:`gpucloud.service.budgets.cannot_pay`)."""
    version = scheduler_version(session)
    jobs = jobs_table()
    pending = list(session.execute(
        job_select().where(jobs.c.state == JobState.PENDING.value).order_by(
            case((jobs.c.queue_rank.is_(None), 1), else_=0), jobs.c.queue_rank, jobs.c.priority.desc(),
            jobs.c.queued_at, jobs.c.id)))
    active = list(session.execute(
        job_select().where(jobs.c.state.in_([s.value for s in HOLDING_STATES])).order_by(jobs.c.id)))
    # with ``now``, the ended ones are not read (index on state, end_at)
    approved = (visible_bookings(session, now) if now is not None else
                session.scalars(select(ReservationRow).where(ReservationRow.state == APPROVED)))
    reserved = [ReservedNodes.of(r) for r in approved]
    down = list(session.scalars(select(NodeStateRow.node).where(NodeStateRow.state == "down")))
    ended = [] if ended_since is None else list(session.execute(job_select().where(
        jobs.c.ended_at > ended_since, jobs.c.started_at.is_not(None), jobs.c.assigned_gpu_type.is_not(None))))
    cannot_pay = {} if now is None or not pending else budgets.cannot_pay(session, pending, now)
    held = job_holds.holds(session, pending, active)
    return Snapshot(version, pending, active, load_orgs(session), reserved, down, ended, cannot_pay, held,
                    replicas.read_services(session))


def spec_of(row: JobData) -> JobSpec:
    """The scheduling core's view of a snapshot row (``id`` is ``str(row.id)``)."""
    return JobSpec(id=str(row.id), org=row.org_name, num_gpus=row.num_gpus, submit_time=row.submitted_at,
                   walltime=row.walltime_s, gpu_type=row.gpu_type, nodes=row.nodes, priority=row.priority,
                   preemptible=row.preemptible, grace=row.grace_s, user=row.user_name, project=row.project_name,
                   reservation=None if row.reservation_id is None else str(row.reservation_id))


@dataclass
class Built:
    driver: Driver
    #: pending jobs the core refused or that are held out of the cycle: job id → reason
    unschedulable: dict[int, str] = field(default_factory=dict)


def driver_state(snap: Snapshot, cluster: Cluster, now: float, usage: DecayedUsage | None = None,
                 unschedulable: dict[int, str] | None = None) -> DriverState:
    """What the cycle driver keeps, read from the database (``docs/scheduling-cycle.md``, "What the driver
    keeps"): a driver restored from it decides exactly as one that lived through the history. Rows that do not fit
    the current cluster are logged and left out (the active ones keep running; pending ones get a wait reason in
    ``unschedulable``, as do the jobs held out of the cycle: by a dependency, an array's throttle, or a project
    that cannot pay)."""
    unschedulable = {} if unschedulable is None else unschedulable
    state = DriverState(usage=usage or DecayedUsage(), now=now,
                        bookings=[b for b in (r.booking(cluster) for r in snap.reserved if r.end > now)
                                  if b is not None],
                        down=tuple(i for i in map(cluster.index_of, snap.down) if i is not None))
    if usage is not None and usage.last is not None:
        state.ended = stopped_runs(snap, usage.last)
    if snap.services or any(row.service_id is not None for row in snap.active):
        state.services, state.replicas = replicas.core_state(snap.services, snap.active, cluster, now)
    for row in snap.active:
        if row.service_id is not None:  # a service's replica: held by the core apart from the jobs
            continue
        gpu_type = row.assigned_gpu_type
        try:
            if gpu_type is None:
                raise KeyError("no GPU type recorded")
            placement = core_placement(placement_from_json(row.placement), gpu_type, cluster)
        except (KeyError, ValueError, InputError) as exc:
            log.warning("job %s holds GPUs the current cluster does not have (%s); left out of scheduling",
                        row.id, exc)
            continue
        state.running.append(RunningJob(
            spec_of(row), placement, row.started_at if row.started_at is not None else now,
            attained_before=row.attained_gpu_s, preempting=row.state == JobState.PREEMPTING.value,
            stop_at=row.stop_at, preempted_for=None if row.preempted_for is None else str(row.preempted_for),
            cancel_requested=bool(row.cancel_requested), seq=row.id))
    for row in snap.pending:
        if row.service_id is not None:  # a replica never queues (the loop cancels it: replicas.orphans)
            unschedulable[row.id] = "a service's replica: cancelled, its service starts another"
            continue
        why = snap.held.get(row.id) or snap.cannot_pay.get(row.id)
        if why is not None:
            unschedulable[row.id] = why
            continue
        state.pending.append(PendingJob(spec_of(row), row.attained_gpu_s, None, row.queued_at, seq=row.id))
    return state


def build_driver(snap: Snapshot, cluster: Cluster, policy: str, now: float, usage: DecayedUsage | None = None,
                 config: SchedulerConfig | None = None) -> Built:
    """The cycle driver for this snapshot (:func:`driver_state`, restored). A pending job the core refuses (no node
    of the current cluster fits it, e.g. after a reload) gets a wait reason instead."""
    unschedulable: dict[int, str] = {}
    state = driver_state(snap, cluster, now, usage, unschedulable)
    running, state.running = state.running, []
    pending, state.pending = state.pending, []
    held, state.replicas = state.replicas, []
    driver = Driver.restore(cluster, snap.orgs, policy, config, state)
    for rep in held:
        try:
            driver.restore_replica(rep)
        except ValueError as exc:  # GPUs another replica holds already
            log.error("replica %s/%s is left out of scheduling: %s", rep.service, rep.slot, exc)
    for run in running:
        try:
            driver.restore_running(run)
        except ValueError as exc:  # GPUs another job holds already: the database disagrees with itself
            log.error("job %s is left out of scheduling: %s", run.id, exc)
    for job in pending:
        try:
            driver.submit(job)
        except InputError as exc:
            unschedulable[int(job.id)] = f"{WaitReason.UNSCHEDULABLE}: {exc}"
    return Built(driver, unschedulable)


def stopped_runs(snap: Snapshot, since: float) -> list[EndedRun]:
    """The runs that stopped after ``since`` (fair share counts them up to their end): jobs that ended, and
    preempted jobs back in the queue (their run ended when they were queued again)."""
    out = [EndedRun(row.org_name, row.assigned_gpu_type, row.num_gpus, row.started_at, row.ended_at)
           for row in snap.ended]
    out += [EndedRun(row.org_name, row.assigned_gpu_type, row.num_gpus, row.started_at, row.queued_at)
            for row in snap.pending
            if row.run_count and row.started_at is not None and row.assigned_gpu_type and row.queued_at > since]
    return out
