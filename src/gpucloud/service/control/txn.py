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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from gpucloud.model.job import JobState
from gpucloud.service.store.engine import bump_version, scheduler_version
from gpucloud.service.store.models import JobRow
from gpucloud.service.transitions import IllegalTransition, apply_transition

log = logging.getLogger("gpucloud.control")

#: Errors after which a transaction is simply tried again (a racing writer, a busy database).
RETRYABLE: tuple[type[Exception], ...] = (StaleDataError, DBAPIError)


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

    def begin_own(self, session: Session) -> None:
        bump_version(session)
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


@dataclass
class Outcome:
    applied: list[int] = field(default_factory=list)
    #: jobs whose state was not the expected one (someone else moved them): left alone
    skipped: list[int] = field(default_factory=list)
    #: jobs whose change could not be committed (retry later)
    failed: list[int] = field(default_factory=list)


class Transactions:
    """Runs the loop's transactions on ``sessions`` and keeps the :class:`VersionTracker` up to date."""

    def __init__(self, sessions: sessionmaker[Session], versions: VersionTracker) -> None:
        self.sessions = sessions
        self.versions = versions

    @contextmanager
    def own(self) -> Iterator[Session]:
        """A write transaction of the loop (committed on exit, rolled back on an exception)."""
        with self.sessions.begin() as session:
            self.versions.begin_own(session)
            yield session
            session.flush()
            self.versions.end_own(session)

    def version(self) -> int:
        with self.sessions() as session:
            return scheduler_version(session)

    def apply(self, changes: Sequence[Change]) -> Outcome:
        """Apply ``changes`` in one transaction; if it cannot commit, job by job (each retried a few times)."""
        if not changes:
            return Outcome()
        try:
            return self._apply_all(changes)
        except RETRYABLE as exc:
            log.info("batch of %d job changes conflicted (%s); applying one by one", len(changes), exc)
        out = Outcome()
        for change in changes:
            for attempt in range(3):
                try:
                    part = self._apply_all([change])
                except RETRYABLE as exc:
                    if attempt == 2:
                        log.warning("job %s: could not commit %s: %s", change.job_id, change.steps[-1].to_state, exc)
                        out.failed.append(change.job_id)
                    continue
                out.applied += part.applied
                out.skipped += part.skipped
                break
        return out

    def _apply_all(self, changes: Sequence[Change]) -> Outcome:
        out = Outcome()
        with self.own() as session, session.no_autoflush:  # one flush at the end, not one per version bump
            rows = lock_for_update(session, [c.job_id for c in changes])
            for change in changes:
                row = rows.get(change.job_id)
                if row is None or row.state not in change.expect:
                    out.skipped.append(change.job_id)
                    continue
                try:
                    for step in change.steps:
                        apply_transition(session, row, step.to_state, step.reason, step.at, bump=False,
                                         **step.extra)
                except IllegalTransition as exc:
                    log.error("job %s: %s", change.job_id, exc)
                    out.skipped.append(change.job_id)
                    continue
                out.applied.append(change.job_id)
        return out


def lock_for_update(session: Session, ids: Sequence[int]) -> dict[int, JobRow]:
    """Load and lock these jobs, waiting for other writers (``FOR UPDATE``; a no-op on SQLite, which already
    holds the database's write lock after the version bump)."""
    if not ids:
        return {}
    stmt = select(JobRow).where(JobRow.id.in_(list(ids))).with_for_update(of=JobRow)
    return {row.id: row for row in session.scalars(stmt).unique()}
