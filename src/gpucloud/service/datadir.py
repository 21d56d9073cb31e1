"""The server's data directory is its own: nothing a job runs as (or any other account) can list it or read the
database in it. Its mode is 0711 when jobs run as their owners' accounts (they reach their own log files under
``jobs/`` by name, and can list nothing), else 0700; the SQLite database and its WAL files are 0600."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

#: created by the server from now on: owner-only (the server's process umask)
UMASK = 0o077


def protect(data_dir: Path, database_url: str, jobs_as_owners: bool) -> None:
    """Create ``data_dir`` if needed and restrict it and the SQLite files in it (see the module docstring)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o711 if jobs_as_owners else 0o700)
    if database_url.startswith("sqlite:///"):
        db = Path(database_url.removeprefix("sqlite:///"))
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(path, 0o600)
