"""Orgs, projects, users and quotas: create, read, update; and the core's view of orgs (:func:`load_orgs`)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.model.org import Org
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.errors import Conflict, NotFound
from gpucloud.service.store.models import ROLES, OrgRow, ProjectRow, QuotaRow, UserRow

DEFAULT_PROJECT = "default"


def get_org(session: Session, name: str) -> OrgRow:
    org = session.scalar(select(OrgRow).where(OrgRow.name == name))
    if org is None:
        raise NotFound("org", name)
    return org


def find_org(session: Session, name: str) -> OrgRow | None:
    return session.scalar(select(OrgRow).where(OrgRow.name == name))


def list_orgs(session: Session) -> list[OrgRow]:
    return list(session.scalars(select(OrgRow).order_by(OrgRow.name)))


def create_org(session: Session, name: str, weight: float, now: float, kind: str = "") -> OrgRow:
    """A new org with a ``default`` project."""
    if find_org(session, name) is not None:
        raise Conflict(f"org {name!r} already exists")
    org = OrgRow(name=name, weight=weight, created_at=now, kind=kind)
    session.add(org)
    session.flush()
    session.add(ProjectRow(org_id=org.id, name=DEFAULT_PROJECT, created_at=now))
    bump_version(session)
    return org


def update_org(session: Session, name: str, weight: float | None, kind: str | None = None) -> OrgRow:
    """Change the weight and/or the kind (None: unchanged)."""
    org = get_org(session, name)
    if weight is not None:
        org.weight = weight
    if kind is not None:
        org.kind = kind
    bump_version(session)
    return org


def find_project(session: Session, org_id: int, name: str) -> ProjectRow | None:
    return session.scalar(select(ProjectRow).where(ProjectRow.org_id == org_id, ProjectRow.name == name))


def list_projects(session: Session, org_id: int) -> list[ProjectRow]:
    return list(session.scalars(select(ProjectRow).where(ProjectRow.org_id == org_id).order_by(ProjectRow.name)))


def create_project(session: Session, org: OrgRow, name: str, now: float) -> ProjectRow:
    if find_project(session, org.id, name) is not None:
        raise Conflict(f"project {name!r} already exists in org {org.name!r}")
    project = ProjectRow(org_id=org.id, name=name, created_at=now)
    session.add(project)
    session.flush()
    return project


def find_user(session: Session, name: str) -> UserRow | None:
    return session.scalar(select(UserRow).where(UserRow.name == name))


def list_users(session: Session, org_id: int | None = None) -> list[UserRow]:
    stmt = select(UserRow).order_by(UserRow.name)
    if org_id is not None:
        stmt = stmt.where(UserRow.org_id == org_id)
    return list(session.scalars(stmt))


def create_user(session: Session, name: str, role: str, org: OrgRow | None, now: float) -> UserRow:
    """A user; every role but ``operator`` needs an org, and operators have none."""
    if role not in ROLES:
        raise InputError("role", f"must be one of {', '.join(ROLES)}", role)
    if role == "operator" and org is not None:
        raise InputError("org", "operators belong to no org; leave it out", org.name)
    if role != "operator" and org is None:
        raise InputError("org", f"a {role} needs an org")
    if find_user(session, name) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = UserRow(name=name, role=role, org_id=None if org is None else org.id, created_at=now)
    session.add(user)
    session.flush()
    return user


def list_quotas(session: Session, org_id: int | None = None) -> list[QuotaRow]:
    stmt = select(QuotaRow).order_by(QuotaRow.org_id, QuotaRow.gpu_type)
    if org_id is not None:
        stmt = stmt.where(QuotaRow.org_id == org_id)
    return list(session.scalars(stmt))


def set_quota(
    session: Session,
    org: OrgRow,
    gpu_type: str,
    guaranteed: int,
    borrow_limit: int | None,
    known_gpu_types: Collection[str],
) -> QuotaRow:
    """Create or replace the org's quota for one GPU type (``borrow_limit`` None: unlimited borrowing)."""
    if gpu_type not in known_gpu_types:
        raise InputError("gpu_type", f"unknown GPU type for this cluster (known: {', '.join(sorted(known_gpu_types))})",
                         gpu_type)
    if guaranteed < 0:
        raise InputError("guaranteed", "must not be negative", guaranteed)
    if borrow_limit is not None and borrow_limit < 0:
        raise InputError("borrow_limit", "must not be negative", borrow_limit)
    quota = session.scalar(select(QuotaRow).where(QuotaRow.org_id == org.id, QuotaRow.gpu_type == gpu_type))
    if quota is None:
        quota = QuotaRow(org_id=org.id, gpu_type=gpu_type, guaranteed=guaranteed, borrow_limit=borrow_limit)
        session.add(quota)
    else:
        quota.guaranteed = guaranteed
        quota.borrow_limit = borrow_limit
    session.flush()
    bump_version(session)
    return quota


def delete_quota(session: Session, org: OrgRow, gpu_type: str) -> None:
    result = session.execute(delete(QuotaRow).where(QuotaRow.org_id == org.id, QuotaRow.gpu_type == gpu_type))
    if not getattr(result, "rowcount", 0):
        raise NotFound("quota", f"{org.name}/{gpu_type}")
    bump_version(session)


def load_orgs(session: Session) -> dict[str, Org]:
    """Every org with its quotas, as the scheduling core's :class:`Org` values."""
    orgs = {o.id: Org(o.name, o.weight, {}, {}) for o in list_orgs(session)}
    for q in list_quotas(session):
        org = orgs[q.org_id]
        org.quota[q.gpu_type] = q.guaranteed
        if q.borrow_limit is not None:
            org.borrow_limit[q.gpu_type] = q.borrow_limit
    return {o.name: o for o in orgs.values()}
