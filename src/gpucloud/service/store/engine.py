"""Engines and sessions: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL (``postgresql+psycopg://``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.service.store.models import JobRow, SchedulerStateRow

SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):  # pragma: no cover - other drivers
        return
    cur = dbapi_connection.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        # In WAL mode NORMAL is durable across process crashes (kill -9); only an OS crash can lose the tail.
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite files get their directory created and the pragmas above on every
    connection; ``postgresql://`` URLs are routed to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for short transactions (``with sessions.begin() as s: ...``); objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_jobs(session: Session, ids: Sequence[int]) -> list[JobRow]:
    """Load and lock these jobs for update. On PostgreSQL rows locked by another transaction are skipped
    (``FOR UPDATE SKIP LOCKED``); on SQLite (one writer at a time) it is a plain select."""
    if not ids:
        return []
    stmt = select(JobRow).where(JobRow.id.in_(list(ids))).order_by(JobRow.id)
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True, of=JobRow)
    return list(session.scalars(stmt).unique())


_STATE = SchedulerStateRow.__table__
assert isinstance(_STATE, Table)
# Core statements (not ORM ones): they run several times per loop cycle and per group commit.
_BUMP = update(_STATE).where(_STATE.c.id == 1).values(version=_STATE.c.version + 1)
_VERSION = select(_STATE.c.version).where(_STATE.c.id == 1)


def bump_version(session: Session) -> None:
    """Mark that something a scheduling decision depends on changed (in the current transaction)."""
    session.connection().execute(_BUMP)


def scheduler_version(session: Session) -> int:
    """The current change counter; a control loop can skip a cycle while it stays the same."""
    return session.connection().execute(_VERSION).scalar() or 0
