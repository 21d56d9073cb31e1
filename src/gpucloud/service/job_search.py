"""Finding jobs: the job list (``GET /jobs``) and the queue (``GET /queue``) narrowed by filters (state, org, user,
project, GPU type, reason, a text in the name, a submission window), sorted by a column and cut into pages, in
SQL, so that a page of a 100,000-job history or a 10,000-job queue costs one indexed query and a count.

Visibility is the API's (docs/api.md): operators see every job, org-admins their org's, members their own; the
queue shows non-operators their org's entries. Naming an org or a user one may not see raises
:class:`NotFound`, as if it did not exist.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.model.job import JobState
from gpucloud.service.auth import Principal
from gpucloud.service.jobs import queue_order
from gpucloud.service.store.errors import NotFound
from gpucloud.service.store.models import JobRow, OrgRow, ProjectRow, UserRow
from gpucloud.service.store.tenants import find_org, find_user

MAX_PAGE = 1000

#: sort keys of the job list (``-key``: descending); ties are broken by the job id, newest first
JOB_SORTS: dict[str, Any] = {
    "id": JobRow.id, "submitted": JobRow.submitted_at, "name": JobRow.name, "state": JobRow.state,
    "user": UserRow.name, "org": OrgRow.name, "project": ProjectRow.name, "gpus": JobRow.num_gpus,
    "walltime": JobRow.walltime_s, "priority": JobRow.priority, "started": JobRow.started_at,
    "ended": JobRow.ended_at,
}
#: sort keys of the queue; ``position`` is the scheduling order, ``queued`` when the job last entered the queue
QUEUE_SORTS: dict[str, Any] = {
    "position": None, "queued": JobRow.queued_at, "submitted": JobRow.submitted_at, "name": JobRow.name,
    "user": UserRow.name, "org": OrgRow.name, "project": ProjectRow.name, "gpus": JobRow.num_gpus,
    "walltime": JobRow.walltime_s, "priority": JobRow.priority,
}


@dataclass(frozen=True, slots=True)
class Filters:
    """What narrows a list; None (or empty) leaves a filter out."""

    states: Sequence[JobState] = ()
    org: str | None = None
    user: str | None = None
    project: str | None = None
    gpu_type: str | None = None
    #: a part of the reason (the wait reason of a pending job, why an ended one ended), any case
    reason: str | None = None
    #: a part of the name (any case), or a job id (``42`` or ``#42``)
    text: str | None = None
    submitted_after: float | None = None
    submitted_before: float | None = None
    #: the tasks of this job array (its id)
    array: int | None = None


@dataclass(frozen=True, slots=True)
class JobQuery:
    filters: Filters = Filters()
    sort: str = "-id"
    limit: int = 100
    #: page by offset (the answer counts every match) ...
    offset: int | None = None
    #: ... or by ``next_cursor`` (ids below it; only with the default sort, newest first)
    cursor: int | None = None


@dataclass(frozen=True, slots=True)
class JobPage:
    items: list[JobRow]
    next_cursor: int | None
    #: every job that matches (only when paging by offset)
    total: int | None


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A pending job and its 1-based position in the whole queue."""

    position: int
    job: JobRow


@dataclass(frozen=True, slots=True)
class QueuePage:
    items: list[QueueEntry]
    #: the whole queue's length
    total_pending: int
    #: the entries the caller may see that match the filters
    total: int


def visible_org(session: Session, who: Principal, name: str) -> OrgRow:
    org = find_org(session, name)
    if org is None or not who.sees_org(org.id):
        raise NotFound("org", name)
    return org


def visible_user(session: Session, who: Principal, name: str) -> UserRow:
    user = find_user(session, name)
    if user is None or not who.sees_user(user):
        raise NotFound("user", name)
    return user


def job_scope(who: Principal) -> ColumnElement[bool]:
    """The condition selecting the jobs ``who`` may see."""
    if who.is_operator:
        return true()
    if who.is_org_admin:
        return JobRow.org_id == who.org_id
    return JobRow.user_id == who.user_id


def parse_sort(text: str, allowed: dict[str, Any]) -> tuple[str, bool]:
    """``"name"`` → ("name", ascending), ``"-name"`` → ("name", descending); InputError naming ``sort``."""
    key = text.removeprefix("-")
    if key not in allowed:
        raise InputError("sort", f"must be one of {', '.join(sorted(allowed))}, with - in front for descending",
                         text)
    return key, text.startswith("-")


def _conditions(session: Session, who: Principal, f: Filters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.states:
        out.append(JobRow.state.in_([s.value for s in f.states]))
    if f.org is not None:
        out.append(JobRow.org_id == visible_org(session, who, f.org).id)
    if f.user is not None:
        out.append(JobRow.user_id == visible_user(session, who, f.user).id)
    if f.project is not None:
        out.append(ProjectRow.name == f.project)
    if f.gpu_type is not None:
        out.append(or_(JobRow.assigned_gpu_type == f.gpu_type,
                       and_(JobRow.assigned_gpu_type.is_(None), JobRow.gpu_type == f.gpu_type)))
    if f.reason:
        out.append(func.lower(JobRow.reason).contains(f.reason.lower(), autoescape=True))
    if f.text:
        text = f.text.strip()
        by_name = func.lower(JobRow.name).contains(text.lower(), autoescape=True)
        digits = text.removeprefix("#")
        out.append(or_(by_name, JobRow.id == int(digits)) if digits.isdigit() and len(digits) < 19 else by_name)
    if f.submitted_after is not None:
        out.append(JobRow.submitted_at >= f.submitted_after)
    if f.submitted_before is not None:
        out.append(JobRow.submitted_at < f.submitted_before)
    if f.array is not None:
        out.append(JobRow.array_job_id == f.array)
    return out


def _joined(stmt: Select[Any]) -> Select[Any]:
    """``stmt`` joined to the job's org, user and project (filters and sorts name them)."""
    return (stmt.join(OrgRow, OrgRow.id == JobRow.org_id).join(UserRow, UserRow.id == JobRow.user_id)
            .join(ProjectRow, ProjectRow.id == JobRow.project_id))


def _count(session: Session, conditions: Sequence[ColumnElement[bool]]) -> int:
    return session.scalar(_joined(select(func.count()).select_from(JobRow)).where(*conditions)) or 0


def search_jobs(session: Session, who: Principal, q: JobQuery) -> JobPage:
    """The jobs ``who`` may see that match ``q``, one page."""
    key, desc = parse_sort(q.sort, JOB_SORTS)
    if q.cursor is not None and (q.offset is not None or (key, desc) != ("id", True)):
        raise InputError("cursor", "pages by cursor only with the default sort (-id) and no offset", q.cursor)
    limit = max(1, min(q.limit, MAX_PAGE))
    conditions = [job_scope(who), *_conditions(session, who, q.filters)]
    column = JOB_SORTS[key]
    order = [(column.desc() if desc else column.asc()).nulls_last(), JobRow.id.desc()]
    stmt = _joined(select(JobRow)).where(*conditions)
    if q.offset is not None:
        rows = list(session.scalars(stmt.order_by(*order).offset(q.offset).limit(limit)))
        return JobPage(rows, None, _count(session, conditions))
    if q.cursor is not None:
        stmt = stmt.where(JobRow.id < q.cursor)
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return JobPage(rows, rows[-1].id if more and rows and key == "id" and desc else None, None)


def queue_page(session: Session, who: Principal, f: Filters, sort: str = "position", offset: int = 0,
               limit: int | None = None) -> QueuePage:
    """Pending jobs with their position in the whole queue: the entries ``who`` may see (operators: all;
    others: their org's) that match ``f``, sorted and cut to one page (``limit`` None: all of them)."""
    key, desc = parse_sort(sort, QUEUE_SORTS)
    pending = JobRow.state == JobState.PENDING.value
    position = func.row_number().over(order_by=list(queue_order())).label("position")
    ranked = select(JobRow.id.label("jid"), position).where(pending).subquery()
    conditions = [pending, *_conditions(session, who, dataclasses.replace(f, states=()))]
    if not who.is_operator:
        conditions.append(JobRow.org_id == who.org_id)
    column = ranked.c.position if key == "position" else QUEUE_SORTS[key]
    order = [(column.desc() if desc else column.asc()).nulls_last(), ranked.c.position]
    stmt = (_joined(select(JobRow, ranked.c.position)).join(ranked, ranked.c.jid == JobRow.id)
            .where(*conditions).order_by(*order).offset(offset))
    if limit is not None:
        stmt = stmt.limit(limit)
    items = [QueueEntry(int(pos), job) for job, pos in session.execute(stmt)]
    total_pending = session.scalar(select(func.count()).select_from(JobRow).where(pending)) or 0
    total = len(items) if limit is None and offset == 0 else _count(session, conditions)
    return QueuePage(items, total_pending, total)
