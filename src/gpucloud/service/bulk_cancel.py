"""Cancel many jobs at once, as ``scancel`` does: named by id (an array's id meaning all its tasks, ``12_3`` one
task, ``12_[1-5]`` some), and/or by name, user, project and state — in one transaction, whatever their number.

Pending jobs are cancelled at once; admitted, running and preempting ones get ``cancel_requested`` and the control
loop stops them (as :func:`gpucloud.service.jobs.cancel_job` does for one job). Only jobs the caller may see are
touched; named jobs the caller may not see are reported as not found, exactly like jobs that do not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, false, insert, or_, select
from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.model.array_spec import parse_job_ref, runs
from gpucloud.model.job import JobState
from gpucloud.service.auth import Principal
from gpucloud.service.control.txn import JobValues, events_table, lock_for_update, write_jobs
from gpucloud.service.job_search import job_scope, visible_user
from gpucloud.service.jobs import request_cancel
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.models import JobRow, ProjectRow
from gpucloud.service.transitions import transition

#: The most job references one request may name.
MAX_REFS = 1000
#: Jobs locked and written per statement (bounded by the database's number of bound values).
CHUNK = 5000
ACTIVE = (JobState.PENDING, JobState.ADMITTED, JobState.RUNNING, JobState.PREEMPTING)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which jobs: ``refs`` (``12``, ``12_3``, ``12_[1-5]``) and filters; at least one of them."""

    refs: Sequence[str] = ()
    name: str | None = None
    user: str | None = None
    project: str | None = None
    states: Sequence[JobState] = ()


@dataclass
class Cancelled:
    #: pending jobs now cancelled
    cancelled: list[int] = field(default_factory=list)
    #: jobs holding GPUs that the control loop now stops
    requested: list[int] = field(default_factory=list)
    #: named jobs that had already ended (left alone)
    ended: list[int] = field(default_factory=list)
    #: references that match no job the caller may see
    not_found: list[str] = field(default_factory=list)


def cancel_jobs(session: Session, who: Principal, sel: Selection, now: float) -> Cancelled:
    """Cancel what ``sel`` selects, in the caller's transaction (bumps the scheduler version once). Without named
    jobs only jobs that have not ended are looked at."""
    if not (sel.refs or sel.name or sel.user or sel.project or sel.states):
        raise InputError("jobs", "name jobs or give a filter (name, user, project, states); refusing to cancel "
                                 "every job you may see")
    if len(sel.refs) > MAX_REFS:
        raise InputError("jobs", f"must name at most {MAX_REFS} jobs (it names {len(sel.refs)})")
    out = Cancelled()
    conditions: list[ColumnElement[bool]] = [job_scope(who)]
    if sel.refs:
        conditions.append(_named(session, who, sel.refs, out))
    else:
        conditions.append(JobRow.state.in_([s.value for s in ACTIVE]))
    if sel.name is not None:
        conditions.append(JobRow.name == sel.name)
    if sel.user is not None:
        conditions.append(JobRow.user_id == visible_user(session, who, sel.user).id)
    if sel.project is not None:
        conditions.append(JobRow.project_id.in_(select(ProjectRow.id).where(ProjectRow.name == sel.project)))
    if sel.states:
        conditions.append(JobRow.state.in_([s.value for s in sel.states]))
    ids = list(session.scalars(select(JobRow.id).where(*conditions).order_by(JobRow.id)))
    for chunk in (ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)):
        _cancel(session, who, lock_for_update(session, chunk), now, out)
    if out.cancelled or out.requested:
        bump_version(session)
    return out


def _cancel(session: Session, who: Principal, rows: dict[int, JobValues], now: float, out: Cancelled) -> None:
    events = []
    for jid, row in sorted(rows.items()):
        state = JobState(row.state)
        if state.terminal:
            out.ended.append(jid)
        elif state == JobState.PENDING:
            events.append(transition(row, JobState.CANCELLED, f"cancelled by {who.name}", now))
            out.cancelled.append(jid)
        else:
            request_cancel(row, f"cancel requested by {who.name}", now)
            out.requested.append(jid)
    write_jobs(session, list(rows.values()))
    if events:
        session.connection().execute(insert(events_table()), events)


def _named(session: Session, who: Principal, refs: Sequence[str], out: Cancelled) -> ColumnElement[bool]:
    """The condition selecting the named jobs; references matching nothing visible go to ``out.not_found``."""
    parsed = [(text, *parse_job_ref(text)) for text in refs]
    found = {j.id: j for j in session.scalars(select(JobRow).where(JobRow.id.in_({job for _, job, _ in parsed})))}
    alternatives: list[ColumnElement[bool]] = []
    for text, job, tasks in parsed:
        row = found.get(job)
        is_array = row is not None and row.array_job_id == row.id
        if row is None or not who.sees_job(row) or (tasks is not None and not is_array):
            out.not_found.append(text)
        elif tasks is None:
            alternatives.append(JobRow.array_job_id == job if is_array else JobRow.id == job)
        else:
            named = and_(JobRow.array_job_id == job, _tasks(tasks))
            alternatives.append(named)
            present = set(session.scalars(select(JobRow.array_task_id).where(named)))
            out.not_found += [f"{job}_{t}" for t in tasks if t not in present][:MAX_REFS]
    return or_(*alternatives) if alternatives else false()


def _tasks(indices: Sequence[int]) -> ColumnElement[bool]:
    """``array_task_id`` among ``indices``, as a few ranges (never one bound value per task)."""
    col = JobRow.array_task_id
    return or_(*(col.between(a, b) if step == 1 else and_(col.between(a, b), (col - a) % step == 0)
                 for a, b, step in runs(indices)))
