"""``gpucloud admin recover-token``: a new operator token minted straight in the database (SQLite and PostgreSQL),
stored hashed, working at once against the running server; the old ones revoked on request; a missing or foreign
database refused in one line, and never created."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_world import Cli, run_gpucloud

from gpucloud.service.auth import authenticate, ensure_operator
from gpucloud.service.store.engine import make_engine, make_sessionmaker
from gpucloud.service.store.migrate import upgrade_database


def recover(*args: str) -> tuple[int, str, str]:
    result = run_gpucloud(["admin", "recover-token", *args], {})
    return result.exit_code, result.stdout, result.stderr


def token_rows(db: Path) -> list[tuple[str, str, float | None]]:
    with sqlite3.connect(db) as c:
        return list(c.execute("SELECT token_hash, description, revoked_at FROM tokens ORDER BY id"))


def test_recovered_token_works_against_the_running_server(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "api.db"  # the running server's database
    code, out, err = recover("--database-url", f"sqlite:///{db}")
    token = out.strip()
    assert code == 0 and token.startswith("gpc_") and len(out.splitlines()) == 1
    assert "for operator admin" in err and "shown only this once" in err
    cli.tokens["recovered"] = token
    me = cli.json("whoami", user="recovered")
    assert (me["name"], me["role"]) == ("admin", "operator")
    rows = token_rows(db)
    assert rows[-1][0] == hashlib.sha256(token.encode()).hexdigest() and rows[-1][1].startswith("recovered on ")
    assert all(token not in str(row) for row in rows)  # only the hash is stored


def test_revoke_others(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    code, out, _ = recover("--database-url", f"sqlite:///{db}", "--revoke-others", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["user"] == "admin" and len(doc["revoked"]) == 1 and doc["token"].startswith("gpc_")
    assert [r[2] is not None for r in token_rows(db)] == [True, False]
    cli.tokens["recovered"] = doc["token"]
    assert cli.json("whoami", user="recovered")["name"] == "admin"
    deadline = time.monotonic() + 15  # a server trusts a token it checked for a few seconds (TOKEN_CACHE_TTL_S)
    while cli.run("whoami", user="admin").exit_code == 0:
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.2)
    assert "not authenticated" in cli.run("whoami", user="admin").stderr


def test_data_dir_and_a_database_without_an_operator(tmp_path: Path) -> None:
    data = tmp_path / "data"
    upgrade_database(f"sqlite:///{data / 'gpucloud.db'}")
    code, out, err = recover("--data-dir", str(data))
    assert code == 0 and "created operator admin" in err and out.startswith("gpc_")
    code, out, err = recover("--data-dir", str(data), "--user", "admin")
    assert code == 0 and "new token 2 for operator admin" in err
    engine = make_engine(f"sqlite:///{data / 'gpucloud.db'}")
    with make_sessionmaker(engine).begin() as s:
        assert ensure_operator(s) is None  # the operator exists now
    engine.dispose()


@pytest.mark.parametrize(("make", "args", "words"), [
    ("nothing", ["--data-dir", "{dir}"], ["--data-dir", "no gpucloud database here"]),
    ("empty", ["--data-dir", "{dir}"], ["--data-dir", "not a gpucloud database"]),
    ("db", ["--data-dir", "{dir}", "--user", "root"], ["--user", "no operator of that name", "'root'"]),
    ("db", ["--data-dir", "{dir}", "--database-url", "sqlite:///x.db"], ["--data-dir or --database-url"]),
    ("nothing", ["--database-url", "nonsense"], ["--database-url", "not a database URL"]),
    ("nothing", ["--database-url", "postgresql+psycopg://nobody@127.0.0.1:9/x"], ["cannot open the database"]),
])
def test_refusals_are_one_line_and_create_nothing(tmp_path: Path, make: str, args: list[str],
                                                  words: list[str]) -> None:
    data = tmp_path / "data"
    if make == "empty":
        data.mkdir()
        sqlite3.connect(data / "gpucloud.db").close()
    elif make == "db":
        upgrade_database(f"sqlite:///{data / 'gpucloud.db'}")
    code, out, err = recover(*(a.format(dir=data) for a in args))
    assert code == 2 and not out and len(err.splitlines()) == 1, err
    for word in words:
        assert word in err
    if make == "nothing":
        assert not data.exists()


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        import psycopg

        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3",
                                autocommit=True)
    except Exception as exc:
        if os.environ.get("GPUCLOUD_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {exc}")
    name = f"gpucloud_test_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres
def test_postgresql(pg_url: str) -> None:
    upgrade_database(pg_url)
    engine = make_engine(pg_url)
    with make_sessionmaker(engine).begin() as s:
        first = ensure_operator(s)
    code, out, err = recover("--database-url", pg_url)
    assert code == 0 and out.strip().startswith("gpc_") and out.strip() != first, err
    with make_sessionmaker(engine)() as s:
        who = authenticate(s, out.strip())
    engine.dispose()
    assert who is not None and (who.name, who.role) == ("admin", "operator")
