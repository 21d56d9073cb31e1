"""Fixtures for the service tests: each test runs against SQLite (a file in tmp_path) and PostgreSQL.

PostgreSQL: one scratch database with a random name per test session on 127.0.0.1:5432 (user postgres,
trust auth), dropped at the end; each test gets its own schema in it. When the server is unreachable the
postgres parametrization is skipped with a message saying so.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_world import FakeClock, World, close_world, make_world

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres connect_timeout=3"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """The URL of a scratch PostgreSQL database for this test session, or None if no server answers."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True)
    except Exception as exc:
        if os.environ.get("GPUCLOUD_REQUIRE_POSTGRES"):
            raise RuntimeError(f"GPUCLOUD_REQUIRE_POSTGRES is set but PostgreSQL is unreachable: {exc}") from exc
        pytest.skip_reason = f"{exc}"  # type: ignore[attr-defined]
        yield None
        return
    name = f"gpucloud_test_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_database: str | None) -> str:
    """A fresh, empty database: a SQLite file, or a new schema in the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gpucloud.db'}"
    if pg_database is None:
        pytest.skip(f"PostgreSQL server at {PG_HOST}:{PG_PORT} is unreachable; postgres runs skipped")
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    dbname = pg_database.rsplit("/", 1)[1]
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname={dbname}", autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    return f"{pg_database}?options=-csearch_path%3D{schema}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    w = make_world(db_url, tmp_path, clock)
    yield w
    close_world(w)
