"""Services in the control plane: create, list, scale and delete them (the API's and the CLI's operations).

A service belongs to an org; operators and that org's admins manage it (members of the org may see it). Its
replicas run its command as jobs of the user who created it, in the org's project (``jobs.service_id``); the
control loop starts and stops them as the scheduling core decides (:mod:`gpucloud.service.control.replicas`).
Every change bumps the scheduler version, so the loop sees it at its next tick. Scaling pushes a value: the
demand becomes ``{"replicas": N}`` (a schedule or curve is replaced).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.demand import MAX_REPLICAS
from gpucloud.model.limits import CommandLimits, check_command
from gpucloud.model.service import MAX_LEAD, ServiceSpec
from gpucloud.model.service_file import DemandIn, ServiceIn
from gpucloud.service.auth import Forbidden, Principal
from gpucloud.service.jobs import HOLDING_STATES
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.errors import Conflict, NotFound
from gpucloud.service.store.models import JobRow, OrgRow, ServiceRow
from gpucloud.service.store.tenants import DEFAULT_PROJECT, find_org, find_project

#: the most services one installation keeps
MAX_SERVICES = 1000


@dataclass(frozen=True)
class ServiceRequest:
    """A service to create: the model's fields (:class:`ServiceIn`), its command, and who it is for."""

    service: ServiceIn
    argv: list[str]
    env: dict[str, str]
    cwd: str = ""
    grace_s: float = 10.0
    org: str | None = None
    project: str | None = None


def spec_of(row: ServiceRow, cluster: Cluster) -> ServiceSpec:
    """The core's view of a stored service (:class:`InputError` when the cluster no longer fits it)."""
    return ServiceIn.model_validate({
        "name": row.name, "class": row.cls, "gpus_per_replica": row.gpus_per_replica, "gpu_type": row.gpu_type,
        "sites": row.sites, "lead_s": row.lead_s, "demand": row.demand, "org": row.org.name},
    ).to_spec(cluster)


def _org(session: Session, who: Principal, name: str | None) -> OrgRow:
    if who.is_operator:
        if name is None:
            raise InputError("org", "operators must name the org the service is for")
        org = find_org(session, name)
        if org is None:
            raise InputError("org", "unknown org", name)
        return org
    if who.org_id is None or not who.is_org_admin:
        raise Forbidden("only org-admins and operators may manage services")
    if name not in (None, who.org):
        raise Forbidden("you may only manage your own org's services")
    org = session.get(OrgRow, who.org_id)
    if org is None:
        raise NotFound("org", who.org)
    return org


def create(session: Session, who: Principal, req: ServiceRequest, cluster: Cluster, limits: CommandLimits,
           now: float) -> ServiceRow:
    """A new service (409 if the name is taken); :class:`InputError` names a bad field."""
    org = _org(session, who, req.org)
    spec = req.service.to_spec(cluster)  # sites, GPU type and demand checked against the cluster
    check_command(req.argv, req.env, req.cwd, limits)
    if not 0 <= req.grace_s <= MAX_LEAD:
        raise InputError("grace", f"must be from 0 to {MAX_LEAD:g} seconds", req.grace_s)
    project = find_project(session, org.id, req.project or DEFAULT_PROJECT)
    if project is None:
        raise InputError("project", f"unknown project in org {org.name!r}", req.project)
    if session.scalar(select(ServiceRow.id).where(ServiceRow.name == spec.name)) is not None:
        raise Conflict(f"a service named {spec.name!r} exists already")
    if (session.scalar(select(func.count()).select_from(ServiceRow)) or 0) >= MAX_SERVICES:
        raise Conflict(f"this installation keeps at most {MAX_SERVICES} services")
    s = req.service
    row = ServiceRow(name=spec.name, org_id=org.id, project_id=project.id, user_id=who.user_id, cls=s.cls,
                     gpus_per_replica=s.gpus_per_replica, gpu_type=s.gpu_type, sites=list(s.sites), lead_s=s.lead_s,
                     grace_s=req.grace_s, demand=s.demand.model_dump(exclude_none=True), argv=list(req.argv),
                     env=dict(req.env), cwd=req.cwd, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    bump_version(session)
    return row


def visible(session: Session, who: Principal) -> list[ServiceRow]:
    """Operators: every service; others: their org's. By name."""
    q = select(ServiceRow).order_by(ServiceRow.name)
    if not who.is_operator:
        q = q.where(ServiceRow.org_id == who.org_id)
    return list(session.scalars(q))


def get(session: Session, who: Principal, name: str) -> ServiceRow:
    row = session.scalar(select(ServiceRow).where(ServiceRow.name == name))
    if row is None or not who.sees_org(row.org_id):
        raise NotFound("service", name)
    return row


def scale(session: Session, who: Principal, name: str, replicas: int, now: float) -> ServiceRow:
    """Push a replica count (the demand becomes that value)."""
    if isinstance(replicas, bool) or not 0 <= replicas <= MAX_REPLICAS:
        raise InputError("replicas", f"must be from 0 to {MAX_REPLICAS:,}", replicas)
    row = get(session, who, name)
    who.require_manager(row.org_id)
    row.demand = DemandIn(replicas=replicas).model_dump(exclude_none=True)
    row.updated_at = now
    bump_version(session)
    return row


def delete(session: Session, who: Principal, name: str) -> None:
    """Delete a service: the loop stops its replicas at its next cycle."""
    row = get(session, who, name)
    who.require_manager(row.org_id)
    session.delete(row)
    bump_version(session)


def replica_counts(session: Session) -> dict[int, int]:
    """Per service id: its replicas holding GPUs (admitted, running or being stopped, not being cancelled)."""
    q = (select(JobRow.service_id, func.count()).where(
        JobRow.service_id.is_not(None), JobRow.state.in_([s.value for s in HOLDING_STATES]),
        JobRow.cancel_requested.is_(False)).group_by(JobRow.service_id))
    return {int(sid): int(n) for sid, n in session.execute(q) if sid is not None}

