"""Job operations: the checks of a submission against the tenants and the cluster (the API's fast path in
:mod:`gpucloud.service.submitter` inserts it), get with events, cancel, the queue order and the GPUs each job
holds (:func:`holders`). Every function works inside the caller's transaction (a :class:`Session`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from gpucloud.core.shapes import job_shapes
from gpucloud.errors import InputError, UnknownNameError
from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import resolve_gpu_type
from gpucloud.model.job import JobSpec, JobState
from gpucloud.model.priority import DEFAULT_PRIORITY_CLASS, priority_of
from gpucloud.money.reservation import RESERVED_SERVICE_CLASS
from gpucloud.service.auth import Forbidden, Principal
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.errors import Conflict, NotFound
from gpucloud.service.store.models import JobEventRow, JobRow, OrgRow, ProjectRow
from gpucloud.service.store.placement import PlacedNode, placement_from_json
from gpucloud.service.store.tenants import DEFAULT_PROJECT, find_org, find_project
from gpucloud.service.transitions import apply_transition

#: States in which a job holds GPUs.
HOLDING_STATES = (JobState.ADMITTED, JobState.RUNNING, JobState.PREEMPTING)


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """A validated-at-the-edge submission (types checked; cluster and tenant checks: :func:`check_request`)."""

    argv: tuple[str, ...]
    walltime_s: float
    num_gpus: int = 1
    nodes: int | None = None
    gpu_type: str | None = None
    name: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = ""
    priority_class: str = DEFAULT_PRIORITY_CLASS
    preemptible: bool = True
    grace_s: float = 10.0
    org: str | None = None
    project: str | None = None
    idempotency_key: str | None = None
    #: how the job is priced (a service class of the tariff)
    service_class: str = "standard"
    #: the name (or ``#id``) of a reservation of the job's org to run in
    reservation: str | None = None
    #: a job array (``0-99%10``: one job per task, see :mod:`gpucloud.service.batch_submit`)
    array: str | None = None
    #: what it waits for (``afterok:12,singleton``, see :mod:`gpucloud.core.dependencies`)
    dependency: str | None = None


@dataclass(frozen=True, slots=True)
class GpuHolder:
    """A job that holds GPUs on one node."""

    job_id: int
    org_id: int
    user_id: int
    state: str
    node: str
    gpus: tuple[int, ...]


# --- submit ------------------------------------------------------------------------------------------------


def submit_org_name(who: Principal, name: str | None) -> str:
    """The org a submission goes to: a user's own (naming another is forbidden); operators must name one."""
    if not who.is_operator:
        if name is not None and name != who.org:
            raise Forbidden("you may only submit jobs to your own org")
        name = who.org
    if name is None:
        raise InputError("org", "operators must name the org the job belongs to")
    return name


def check_request(req: SubmitRequest, who: Principal, org: str, project: str, cluster: Cluster,
                  now: float) -> tuple[int, str | None]:
    """The priority and the resolved GPU type of a submission; raises InputError naming the field when the
    priority class or GPU type is unknown, the walltime or grace exceeds the cluster's limits or the shape fits
    no node of the cluster."""
    try:
        priority = priority_of(req.priority_class)
    except UnknownNameError as exc:
        raise InputError("priority", exc.message.split(" (known")[0], req.priority_class) from None
    cluster.limits.check(req.walltime_s, req.grace_s, req.priority_class,
                         req.service_class if req.reservation is None else RESERVED_SERVICE_CLASS)
    gpu_type: str | None = None
    if req.gpu_type is not None:
        try:
            gpu_type = resolve_gpu_type(req.gpu_type, cluster.gpu_types)
        except UnknownNameError as exc:
            raise InputError("gpu_type", exc.message.split(" (known")[0] + f" (this cluster has: "
                             f"{', '.join(sorted(cluster.gpu_types))})", req.gpu_type) from None
    spec = JobSpec(id="new", org=org, num_gpus=req.num_gpus, submit_time=now, walltime=req.walltime_s,
                   gpu_type=gpu_type, nodes=req.nodes, priority=priority, preemptible=req.preemptible,
                   grace=req.grace_s, user=who.name, project=project)
    job_shapes(cluster, spec)  # the core's rule: an InputError naming the field if it can never run
    return priority, gpu_type


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    """A submission checked against the tenants (read in the caller's session) and the cluster."""

    org: OrgRow
    project: ProjectRow
    priority: int
    gpu_type: str | None


def check_in_session(session: Session, who: Principal, req: SubmitRequest, cluster: Cluster,
                     now: float) -> CheckedRequest:
    """:func:`check_request` with the org and project looked up in ``session`` (an :class:`InputError` naming
    the field when either is unknown): for the previews of a submission (price, start time)."""
    org_name = submit_org_name(who, req.org)
    org = find_org(session, org_name)
    if org is None:
        raise InputError("org", "unknown org", org_name)
    project = find_project(session, org.id, req.project or DEFAULT_PROJECT)
    if project is None:
        raise InputError("project", f"unknown project in org {org.name!r}", req.project)
    priority, gpu_type = check_request(req, who, org.name, project.name, cluster, now)
    return CheckedRequest(org, project, priority, gpu_type)


# --- read ----------------------------------------------------------------------------------------------------


def get_job(session: Session, who: Principal, job_id: int) -> JobRow:
    """The job, if ``who`` may see it; otherwise :class:`NotFound` (whether or not it exists)."""
    job = session.get(JobRow, job_id)
    if job is None or not who.sees_job(job):
        raise NotFound("job", job_id)
    return job


def job_events(session: Session, job_id: int) -> list[JobEventRow]:
    return list(session.scalars(select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)))


def queue_order() -> tuple[Any, ...]:
    """How pending jobs are ordered: the loop's rank, then priority, then time in the queue."""
    return (case((JobRow.queue_rank.is_(None), 1), else_=0), JobRow.queue_rank, JobRow.priority.desc(),
            JobRow.queued_at, JobRow.id)


# --- cancel --------------------------------------------------------------------------------------------------


def cancel_job(session: Session, who: Principal, job_id: int, now: float) -> JobRow:
    """Cancel: a pending job at once; an admitted, running or preempting one is marked ``cancel_requested``
    and the control loop stops it (it becomes ``cancelled`` when its processes are gone). Cancelling a job
    that already ended is a :class:`Conflict`; asking twice is harmless."""
    job = get_job(session, who, job_id)
    state = JobState(job.state)
    if state.terminal:
        raise Conflict(f"job {job_id} already ended ({job.state})")
    if state == JobState.PENDING:
        apply_transition(session, job, JobState.CANCELLED, f"cancelled by {who.name}", now)
    elif not job.cancel_requested:
        request_cancel(job, f"cancel requested by {who.name}", now)
        bump_version(session)
    return job


def request_cancel(job: Any, reason: str, now: float) -> None:
    """Mark a job that holds GPUs to be stopped by the control loop (a job row or the loop's row values); the
    core plans with its stop from now (the loop sends its SIGTERM at its next tick)."""
    if job.cancel_requested:
        return
    job.cancel_requested = True
    job.reason = reason
    if job.stop_at is None:
        job.stop_at = now


# --- for the control loop and the cluster view ---------------------------------------------------------------


def holders(session: Session) -> list[GpuHolder]:
    """Which jobs hold which GPUs: from placements of admitted, running and preempting jobs."""
    rows = session.execute(
        select(JobRow.id, JobRow.org_id, JobRow.user_id, JobRow.state, JobRow.placement)
        .where(JobRow.state.in_([s.value for s in HOLDING_STATES]))
    ).all()
    return [GpuHolder(jid, oid, uid, state, p.node, p.gpus)
            for jid, oid, uid, state, placement in rows for p in placement_from_json(placement)]


def job_placement(job: JobRow) -> list[PlacedNode]:
    return placement_from_json(job.placement)
