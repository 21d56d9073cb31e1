"""The store: migrations on SQLite and PostgreSQL, engine settings, locking, hashed tokens, bootstrap."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from api_world import World
from sqlalchemy import inspect, select, text

from gpucloud.service.auth import authenticate, ensure_operator, hash_token
from gpucloud.service.store.engine import lock_jobs, make_engine, make_sessionmaker, scheduler_version
from gpucloud.service.store.migrate import current_revision, head_revision, upgrade_database
from gpucloud.service.store.models import Base, TokenRow

TABLES = {"orgs", "projects", "users", "tokens", "quotas", "jobs", "job_events", "scheduler_state"}


def test_migrations_create_the_schema(db_url: str) -> None:
    upgrade_database(db_url)
    upgrade_database(db_url)  # a second run is a no-op
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert current_revision(engine) == head_revision() >= "0003"
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
        with make_sessionmaker(engine)() as s:
            assert scheduler_version(s) == 0
    finally:
        engine.dispose()


def test_sqlite_engine_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_postgresql_url_uses_psycopg() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:5432/nothing")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_tokens_are_stored_hashed(world: World) -> None:
    ctx = world.app.state.gpucloud
    raw = world.tokens["alice"]
    with ctx.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert all(raw not in str(v) for v in row), f"raw token found in {table.name}"
    with ctx.sessions() as s:
        stored = s.scalars(select(TokenRow).where(TokenRow.token_hash == hash_token(raw))).one()
        assert stored.prefix == raw[:12] and raw.startswith("gpc_")
        assert authenticate(s, raw) is not None
        assert authenticate(s, raw + "x") is None


def test_revoked_token_is_refused(world: World) -> None:
    tokens = world.call("alice", "GET", "/api/v1/tokens").json()
    assert len(tokens) == 1
    assert world.call("alice", "POST", f"/api/v1/tokens/{tokens[0]['id']}/revoke").status_code == 200
    r = world.call("alice", "GET", "/api/v1/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert world.client.get("/api/v1/me").status_code == 401


def test_ensure_operator_only_once(world: World) -> None:
    with world.app.state.gpucloud.sessions.begin() as s:
        assert ensure_operator(s, world.clock()) is None


def test_bootstrap_token_only_on_first_start(db_url: str, tmp_path: Path) -> None:
    from api_world import FakeClock

    from gpucloud.service.api import create_app
    from gpucloud.service.settings import Settings

    settings = Settings(data_dir=tmp_path / "d", database_url=db_url, cluster_file="2x8:H100")
    first = create_app(settings, clock=FakeClock())
    second = create_app(settings, clock=FakeClock())
    assert first.state.gpucloud.bootstrap_token is not None
    assert second.state.gpucloud.bootstrap_token is None
    for app in (first, second):
        app.state.gpucloud.engine.dispose()


def test_lock_jobs(world: World) -> None:
    ids = [world.submit("alice")["id"] for _ in range(3)]
    with world.app.state.gpucloud.sessions.begin() as s:
        rows = lock_jobs(s, ids[:2])
        assert [r.id for r in rows] == ids[:2]
        assert lock_jobs(s, []) == []


def test_lock_jobs_skips_locked_rows_on_postgres(world: World, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        return  # SQLite has one writer at a time: a plain select
    jid = world.submit("alice")["id"]
    sessions = world.app.state.gpucloud.sessions
    with sessions.begin() as first, sessions.begin() as second:
        assert [r.id for r in lock_jobs(first, [jid])] == [jid]
        assert lock_jobs(second, [jid]) == []


def test_ledger_totals_migration_sums_an_existing_ledger(db_url: str) -> None:
    """A ledger written before revision 0006 (entries only) gets its running totals and open holds summed once:
    top-up 100, run 1 held 4 and settled at 1 (release 4, charge 1), run 2 holding 6 → balance 99, held 6,
    spent 1, one open hold; and the whole ledger then verifies."""
    from gpucloud.service.budgets import full_ledger
    from gpucloud.service.store.migrate import upgrade_engine
    from gpucloud.service.store.models import BudgetRow, OpenHoldRow

    engine = make_engine(db_url)
    try:
        upgrade_engine(engine, "0005")
        run = {"org": "o", "project": "o/default", "user": "u", "gpu_type": "H100-80GB", "gpus": 1, "walltime": 3600.0,
               "started_at": 10.0, "service_class": "standard", "priority_class": "normal",
               "tariff": {"name": "t", "valid_from": 0.0, "points_per_gpu_hour": {"H100-80GB": "4"},
                          "service_classes": {"standard": "1"}, "priority_classes": {}, "minimum_seconds": 0,
                          "increment_seconds": 0, "description": ""}}
        with engine.begin() as c:
            c.execute(text("INSERT INTO orgs (id, name, weight, created_at) VALUES (1, 'o', 1, 0)"))
            c.execute(text("INSERT INTO projects (id, org_id, name, created_at) VALUES (1, 1, 'default', 0)"))
            c.execute(text("INSERT INTO budgets (id, project_id, created_at) VALUES (1, 1, 0)"))
            for kind, amount, ref, detail in [("top_up", "100", None, None), ("hold", "4", "1#1", run),
                                              ("release", "4", "1#1", None), ("charge", "1", "1#1", None),
                                              ("hold", "6", "2#1", run)]:
                c.execute(text("INSERT INTO ledger_entries (project_id, kind, amount, ref, at, subsidy, programme, "
                               "note, detail) VALUES (1, :k, :a, :r, 20, :s, '', '', :d)"),
                          {"k": kind, "a": amount, "r": ref, "s": "0",
                           "d": None if detail is None else json.dumps(detail)})
        upgrade_engine(engine)
        with make_sessionmaker(engine)() as s:
            b = s.scalar(select(BudgetRow))
            assert b is not None
            assert (b.balance, b.held, b.spent) == (Decimal("99.0000"), Decimal("6.0000"), Decimal("1.0000"))
            assert [(h.ref, h.amount) for h in s.scalars(select(OpenHoldRow))] == [("2#1", Decimal("6.0000"))]
            full_ledger(s).verify()
    finally:
        engine.dispose()
