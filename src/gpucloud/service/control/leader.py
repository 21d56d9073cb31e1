"""Leadership: only one control loop acts on a database at a time, and a former leader is fenced.

On PostgreSQL (several server replicas sharing one database) the loop holds a session-level advisory lock,
``pg_try_advisory_lock(key)``, on a connection of its own; the key is derived from the database and schema names,
so replicas of one installation compete for the same key. That connection is never handed back to the pool while
it may hold the lock: when leadership ends it is unlocked and closed for real (``invalidate``), so no other user
of the pool can inherit the lock.

Each leadership term has an **epoch**: on winning, the loop increments ``scheduler_state.leader_epoch`` and keeps
the value. Every write the loop makes checks it (:meth:`gpucloud.service.control.txn.VersionTracker.begin_own`)
and every launch carries it to the hosts, which refuse older epochs. So a former leader that stalled (a long GC
pause, a frozen VM, a network partition that broke its lock connection) can never admit, start or launch anything
after another replica took over: its next write raises :class:`Fenced`. On SQLite one server is one loop, and each
(re)start of the loop is a new term.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Connection, Engine, select, text, update

from gpucloud.errors import GpucloudError
from gpucloud.service.store.models import SchedulerStateRow, cast_table

log = logging.getLogger("gpucloud.control")

_KEY_SQL = "SELECT hashtext('gpucloud-control-loop:' || current_database() || '.' || current_schema())"
_STATE = cast_table(SchedulerStateRow)


class Fenced(GpucloudError):
    """Another control loop leads now (a newer epoch): this one must stop acting and recover before it acts again."""


def new_epoch(conn: Connection) -> tuple[int, str]:
    """Start a new leadership term: increment ``scheduler_state.leader_epoch`` (in ``conn``'s transaction); the
    new epoch and the installation's id."""
    conn.execute(update(_STATE).where(_STATE.c.id == 1).values(leader_epoch=_STATE.c.leader_epoch + 1))
    epoch, installation = conn.execute(
        select(_STATE.c.leader_epoch, _STATE.c.installation).where(_STATE.c.id == 1)).one()
    return int(epoch), str(installation)


class Leadership:
    """Whether this loop leads, and its epoch while it does."""

    def __init__(self, engine: Engine | None, check_every_s: float = 2.0) -> None:
        self.engine = engine
        self.check_every_s = check_every_s
        #: the epoch of this loop's current term (None: not leading)
        self.epoch: int | None = None
        #: the installation's id (``scheduler_state.installation``), read with the epoch
        self.installation = ""
        self._conn: Connection | None = None
        self._checked = 0.0

    @property
    def shared(self) -> bool:
        """True when other replicas may run loops against the same database."""
        return self.engine is not None and self.engine.dialect.name == "postgresql"

    def acquire(self) -> bool:
        """True while this loop is the leader (tries to become it when it is not; a new term gets a new epoch)."""
        if not self.shared:
            if self.epoch is None:
                self.epoch, self.installation = self._bump()
            return True
        if self._conn is not None:
            if time.monotonic() - self._checked < self.check_every_s:
                return True
            try:
                self._conn.execute(text("SELECT 1"))
                self._checked = time.monotonic()
                return True
            except Exception:
                log.warning("lost the connection that holds the control-loop lock; no longer the leader")
                self._drop()
                return False
        assert self.engine is not None
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            key = conn.execute(text(_KEY_SQL)).scalar_one()
            if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
                self._conn, self._checked = conn, time.monotonic()
                self.epoch, self.installation = self._bump()
                log.info("this server runs the control loop (advisory lock %s, epoch %s)", key, self.epoch)
                return True
        except Exception:
            log.exception("cannot take the control-loop lock")
            self._conn = conn
            self._drop()
            return False
        conn.close()  # it never held the lock: back to the pool
        return False

    def _bump(self) -> tuple[int, str]:
        assert self.engine is not None
        with self.engine.begin() as conn:
            return new_epoch(conn)

    def lost(self) -> None:
        """This loop was fenced (another leads): end the term; the next :meth:`acquire` starts a new one."""
        log.warning("another control loop took over (epoch %s is no longer current); stepping down", self.epoch)
        self._drop()

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
            except Exception:
                log.debug("unlock failed (the connection is closed for real anyway)", exc_info=True)
        self._drop()

    def _drop(self) -> None:
        """End the term; the lock connection is closed for real, never returned to the pool with the lock."""
        self.epoch = None
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                log.debug("closing the leader connection failed", exc_info=True)
