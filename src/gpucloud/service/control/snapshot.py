"""The database as the scheduling core sees it: one read of the version, the pending and active jobs, the orgs;
and :func:`build_scheduler`, which turns it into a fresh :class:`Scheduler`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from gpucloud.core.scheduler import Scheduler
from gpucloud.core.state import DecayedUsage
from gpucloud.core.types import PendingJob, RunningJob, WaitReason
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec, JobState
from gpucloud.model.org import Org
from gpucloud.service import budgets, job_holds
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
    return Snapshot(version, pending, active, load_orgs(session), reserved, down, ended, cannot_pay, held)


def spec_of(row: JobData) -> JobSpec:
    """The scheduling core's view of a snapshot row (``id`` is ``str(row.id)``)."""
    return JobSpec(id=str(row.id), org=row.org_name, num_gpus=row.num_gpus, submit_time=row.submitted_at,
                   walltime=row.walltime_s, gpu_type=row.gpu_type, nodes=row.nodes, priority=row.priority,
                   preemptible=row.preemptible, grace=row.grace_s, user=row.user_name, project=row.project_name,
                   reservation=None if row.reservation_id is None else str(row.reservation_id))


@dataclass
class Built:
    scheduler: Scheduler
    #: pending jobs the core refused (e.g. no node fits after a cluster reload): job id → reason
    unschedulable: dict[int, str] = field(default_factory=dict)


def build_scheduler(snap: Snapshot, cluster: Cluster, policy: str, now: float,
                    usage: DecayedUsage | None = None) -> Built:
    """A scheduler holding the snapshot's active jobs and queue. Rows that do not fit the current cluster are
    logged and left out (the active ones keep running; pending ones get a wait reason)."""
    sched = Scheduler(cluster, snap.orgs, policy, usage=usage)
    built = Built(sched)
    sched.set_bookings(b for b in (r.booking(cluster) for r in snap.reserved if r.end > now) if b is not None)
    sched.set_down(i for i in map(cluster.index_of, snap.down) if i is not None)
    if sched.policy.uses_usage and usage is not None and usage.last is not None:
        report_stopped_runs(sched, snap, usage.last)
    for row in snap.active:
        gpu_type = row.assigned_gpu_type
        try:
            if gpu_type is None:
                raise KeyError("no GPU type recorded")
            placement = core_placement(placement_from_json(row.placement), gpu_type, cluster)
            sched.restore_running(RunningJob(
                spec_of(row), placement, row.started_at if row.started_at is not None else now,
                attained_before=row.attained_gpu_s, preempting=row.state == JobState.PREEMPTING.value))
        except (KeyError, ValueError, InputError) as exc:
            log.warning("job %s holds GPUs the current cluster does not have (%s); left out of scheduling",
                        row.id, exc)
    for row in snap.pending:
        why = snap.held.get(row.id) or snap.cannot_pay.get(row.id)
        if why is not None:
            built.unschedulable[row.id] = why
            continue
        try:
            sched.submit(PendingJob(spec_of(row), row.attained_gpu_s, None, row.queued_at))
        except InputError as exc:
            built.unschedulable[row.id] = f"{WaitReason.UNSCHEDULABLE}: {exc}"
    for row in snap.active:
        beneficiary = str(row.preempted_for) if row.preempted_for is not None else None
        if row.state == JobState.PREEMPTING.value and beneficiary in sched.state.pending:
            sched.state.nominated.setdefault(beneficiary, set()).add(str(row.id))
    return built


def report_stopped_runs(sched: Scheduler, snap: Snapshot, since: float) -> None:
    """Tell fair share about the runs that stopped after ``since`` (its last cycle): jobs that ended, and
    preempted jobs back in the queue (their run ended when they were queued again)."""
    for row in snap.ended:
        sched.ran_between(row.org_name, row.assigned_gpu_type, row.num_gpus, row.started_at, row.ended_at)
    for row in snap.pending:
        if row.run_count and row.started_at is not None and row.assigned_gpu_type and row.queued_at > since:
            sched.ran_between(row.org_name, row.assigned_gpu_type, row.num_gpus, row.started_at, row.queued_at)
