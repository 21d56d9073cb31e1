"""The loop's transactions: short, rows locked, and tracked against ``scheduler_state.version``.

Every transaction of the loop starts by bumping the version (once for all its transitions, which are applied
with ``bump=False``) and reading it back. The bump takes the write lock
(SQLite) or the version row's lock (PostgreSQL), so the value read is exact: if it is not one more than the
version the loop last saw, someone else changed something since, and the loop marks itself ``dirty`` (it
schedules again). The version read at the end of the transaction becomes the last seen one, so the loop's
own changes never count as news while everyone else's always do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, Table, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from gpucloud.model.job import JobState
from gpucloud.service import budgets
from gpucloud.service.control.leader import Fenced
from gpucloud.service.store.engine import bump_version, is_postgres, scheduler_version
from gpucloud.service.store.models import (
    JobEventRow,
    JobRow,
    OrgRow,
    ProjectRow,
    SchedulerStateRow,
    UserRow,
    cast_table,
)
from gpucloud.service.transitions import IllegalTransition, transition

log = logging.getLogger("gpucloud.control")

#: Errors after which a transaction is simply tried again (a racing writer, a busy database).
RETRYABLE: tuple[type[Exception], ...] = (StaleDataError, DBAPIError)

_STATE = cast_table(SchedulerStateRow)
#: the loop's version bump, only while its leadership epoch is the current one
_FENCED_BUMP = (update(_STATE).where(_STATE.c.id == 1, _STATE.c.leader_epoch == bindparam("epoch"))
                .values(version=_STATE.c.version + 1))


class VersionTracker:
    """The scheduler version the loop last saw, and whether anything changed since that it has not handled."""

    def __init__(self) -> None:
        self.seen: int | None = None
        self.dirty = True

    def changed(self, current: int) -> bool:
        return self.dirty or current != self.seen

    def saw(self, version: int) -> None:
        """The loop read everything as of ``version`` (a snapshot)."""
        self.seen = version
        self.dirty = False

    def begin_own(self, session: Session, epoch: int | None) -> None:
        """Bump the version, checking (when ``epoch`` is given) that this loop's leadership term is still the
        current one: :class:`Fenced` if another loop took over."""
        if epoch is None:
            bump_version(session)
        elif session.connection().execute(_FENCED_BUMP, {"epoch": epoch}).rowcount != 1:
            raise Fenced(f"leadership epoch {epoch} is no longer current: another control loop took over")
        if self.seen is None or scheduler_version(session) - 1 != self.seen:
            self.dirty = True

    def end_own(self, session: Session) -> None:
        self.seen = scheduler_version(session)


@dataclass(frozen=True, slots=True)
class Step:
    """One transition: ``to_state`` with ``reason`` and the transition's extra data (placement, handle...)."""

    to_state: JobState
    reason: str
    at: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """Transitions to apply to one job, in order, if it is still in one of ``expect`` states."""

    job_id: int
    expect: frozenset[str]
    steps: tuple[Step, ...]
    #: leave the job alone if a user asked to cancel it (admissions)
    unless_cancel_requested: bool = False


@dataclass
class Outcome:
    applied: list[int] = field(default_factory=list)
    #: jobs whose state was not the expected one (someone else moved them): left alone
    skipped: list[int] = field(default_factory=list)
    #: jobs whose change could not be committed (retry later)
    failed: list[int] = field(default_factory=list)
    #: the committed values of the applied jobs
    rows: dict[int, JobValues] = field(default_factory=dict)
    #: admissions refused because the project cannot pay (job id → wait reason); left pending
    refused: dict[int, str] = field(default_factory=dict)


class Transactions:
    """Runs the loop's transactions on ``sessions`` and keeps the :class:`VersionTracker` up to date. ``epoch``
    gives the loop's leadership epoch, which every transaction checks (``None``: no check)."""

    def __init__(self, sessions: sessionmaker[Session], versions: VersionTracker,
                 node_gpus: Callable[[str], int | None] | None = None,
                 epoch: Callable[[], int | None] = lambda: None) -> None:
        self.sessions = sessions
        self.versions = versions
        self.epoch = epoch
        #: node name → its GPU count (the current cluster): what pricing needs to tell part of a node
        self.node_gpus = node_gpus
        #: the nodes of ``ran`` services' sites (set by the loop each cycle): runs there are priced as lent GPUs
        self.lent_nodes: frozenset[str] = frozenset()

    @contextmanager
    def own(self) -> Iterator[Session]:
        """A write transaction of the loop (committed on exit, rolled back on an exception)."""
        with self.sessions.begin() as session:
            self.versions.begin_own(session, self.epoch())
            yield session
            session.flush()
            self.versions.end_own(session)

    def version(self) -> int:
        with self.sessions() as session:
            return scheduler_version(session)

    def apply(self, changes: Sequence[Change], *, skip_locked: bool = False) -> Outcome:
        """Apply ``changes`` in one transaction; if it cannot commit, job by job (each retried a few times).
        ``skip_locked``: on PostgreSQL, leave jobs whose rows another transaction holds (admissions)."""
        if not changes:
            return Outcome()
        try:
            return self._apply_all(changes, skip_locked)
        except RETRYABLE as exc:
            log.info("batch of %d job changes conflicted (%s); applying one by one", len(changes), exc)
        out = Outcome()
        for change in changes:
            for attempt in range(3):
                try:
                    part = self._apply_all([change], skip_locked)
                except RETRYABLE as exc:
                    if attempt == 2:
                        log.warning("job %s: could not commit %s: %s", change.job_id, change.steps[-1].to_state, exc)
                        out.failed.append(change.job_id)
                    continue
                out.applied += part.applied
                out.skipped += part.skipped
                out.refused.update(part.refused)
                out.rows.update(part.rows)
                break
        return out

    def _apply_all(self, changes: Sequence[Change], skip_locked: bool = False) -> Outcome:
        """One transaction: read the rows (locked), apply the transitions in memory, then write them with one
        ``executemany`` per set of changed columns and insert all events with one more."""
        out = Outcome()
        with self.own() as session:
            rows = lock_for_update(session, [c.job_id for c in changes], skip_locked=skip_locked)
            events: dict[int, list[dict[str, Any]]] = {}
            money: list[tuple[str, Any, float]] = []
            for change in changes:
                row = rows.get(change.job_id)
                if row is None or row.state not in change.expect or (
                        change.unless_cancel_requested and row.cancel_requested):
                    out.skipped.append(change.job_id)
                    continue
                mine: list[dict[str, Any]] = []
                try:
                    for step in change.steps:
                        mine.append(transition(row, step.to_state, step.reason, step.at, **step.extra))
                except IllegalTransition as exc:
                    log.error("job %s: %s", change.job_id, exc)
                    row.undo()
                    out.skipped.append(change.job_id)
                    continue
                events[change.job_id] = mine
                out.applied.append(change.job_id)
                out.rows[change.job_id] = row
                money.append((row._read["state"], row, change.steps[-1].at))
            refused = budgets.on_job_changes(session, money, self.node_gpus, self.lent_nodes) if money else {}
            for jid, why in refused.items():  # the project cannot pay: not admitted, waits for a top-up
                out.rows.pop(jid).undo()
                out.applied.remove(jid)
                del events[jid]
                out.refused[jid] = why
            write_jobs(session, list(out.rows.values()))
            all_events = [e for mine in events.values() for e in mine]
            if all_events:
                session.connection().execute(insert(events_table()), all_events)
        return out


def jobs_table() -> Table:
    table = JobRow.__table__
    assert isinstance(table, Table)
    return table


def events_table() -> Table:
    table = JobEventRow.__table__
    assert isinstance(table, Table)
    return table


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


JOB_COLUMNS: tuple[str, ...] = tuple(c.name for c in jobs_table().c)


def job_select() -> Select[Any]:
    """Every column of ``jobs`` plus the names of the job's org, user and project (``org_name``,
    ``user_name``, ``project_name``): plain rows, no ORM objects."""
    jobs, orgs, users, projects = jobs_table(), _table(OrgRow), _table(UserRow), _table(ProjectRow)
    return (select(*jobs.c, orgs.c.name.label("org_name"), users.c.name.label("user_name"),
                   projects.c.name.label("project_name"))
            .select_from(jobs.join(orgs, orgs.c.id == jobs.c.org_id).join(users, users.c.id == jobs.c.user_id)
                         .join(projects, projects.c.id == jobs.c.project_id)))


class JobValues:
    """A job's column values, read with :func:`job_select` and changed in memory by
    :func:`gpucloud.service.transitions.transition`; :meth:`changes` says which columns differ from the read."""

    id: int
    state: str
    reason: str
    cancel_requested: bool
    row_version: int
    argv: list[Any]
    env: dict[str, Any]
    cwd: str
    placement: list[Any] | None
    handle: dict[str, Any] | None
    run_count: int
    walltime_s: float
    grace_s: float
    started_at: float | None

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self._read = values

    def __getattr__(self, name: str) -> Any:  # typed access for the other columns
        raise AttributeError(name)

    def changes(self) -> dict[str, Any]:
        return {k: self.__dict__[k] for k in JOB_COLUMNS if self.__dict__[k] != self._read[k]}

    def undo(self) -> None:
        self.__dict__.update(self._read)


def write_jobs(session: Session, rows: Sequence[JobValues]) -> None:
    """Write the changed columns of ``rows`` (``row_version`` + 1, guarded by the version read), one
    ``executemany`` per set of changed columns; :class:`StaleDataError` if any row changed meanwhile."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    written: list[tuple[JobValues, dict[str, Any]]] = []
    for row in rows:
        changed = row.changes()
        if not changed:
            continue
        written.append((row, changed))
        keys = tuple(sorted(changed))
        params = {f"v_{k}": v for k, v in changed.items()}
        params["b_id"] = row.id
        params["b_ver"] = row.row_version
        groups.setdefault(keys, []).append(params)
    if not groups:
        return
    table = jobs_table()
    conn = session.connection()
    sane = conn.dialect.supports_sane_multi_rowcount
    for keys, batch in groups.items():
        stmt = (update(table).where(table.c.id == bindparam("b_id"), table.c.row_version == bindparam("b_ver"))
                .values({**{k: bindparam(f"v_{k}") for k in keys}, "row_version": bindparam("b_ver") + 1}))
        result = conn.execute(stmt, batch)
        if (sane or len(batch) == 1) and result.rowcount != len(batch):
            raise StaleDataError(f"{len(batch) - result.rowcount} of {len(batch)} job rows changed meanwhile")
    for row, changed in written:  # the values now stored
        row.row_version += 1
        row._read = {**row._read, **changed, "row_version": row.row_version}


def lock_for_update(session: Session, ids: Sequence[int], *, skip_locked: bool = False) -> dict[int, JobValues]:
    """Read and lock these jobs, waiting for other writers (``FOR UPDATE``; ``skip_locked``: leave rows another
    transaction holds). On SQLite the loop already holds the database's write lock after the version bump."""
    if not ids:
        return {}
    stmt = job_select().where(jobs_table().c.id.in_(list(ids)))
    if is_postgres(session):
        stmt = stmt.with_for_update(of=jobs_table(), skip_locked=skip_locked)
    return {row.id: JobValues(dict(row._mapping)) for row in session.execute(stmt)}
