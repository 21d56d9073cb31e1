"""Leadership: only one control loop acts on a database at a time.

On PostgreSQL (several server replicas sharing one database) the loop holds a session-level advisory lock,
``pg_try_advisory_lock(key)``, on a connection of its own; the key is derived from the database and schema
names, so replicas of one installation compete for the same key. If that connection breaks, the lock is gone
and the loop stops acting until it wins the lock again (and then recovers as after a restart). On SQLite one
server is one loop: leadership is always granted.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("gpucloud.control")

_KEY_SQL = "SELECT hashtext('gpucloud-control-loop:' || current_database() || '.' || current_schema())"


class Leadership:
    def __init__(self, engine: Engine | None, check_every_s: float = 2.0) -> None:
        self.engine = engine
        self.check_every_s = check_every_s
        self._conn: Connection | None = None
        self._checked = 0.0

    @property
    def shared(self) -> bool:
        """True when other replicas may run loops against the same database."""
        return self.engine is not None and self.engine.dialect.name == "postgresql"

    def acquire(self) -> bool:
        """True while this loop is the leader (tries to become it when it is not)."""
        if not self.shared:
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
                log.info("this server runs the control loop (advisory lock %s)", key)
                return True
        except Exception:
            log.exception("cannot take the control-loop lock")
        conn.close()
        return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
            except Exception:
                log.debug("unlock failed (the connection is closing anyway)", exc_info=True)
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing the leader connection failed", exc_info=True)
