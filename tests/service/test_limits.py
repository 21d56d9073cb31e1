"""Limits on every input of the API: ids beyond 64 bits, request bodies over the size limit (on the fast submit
path too), a job's command (argv, env, cwd: NUL characters, '=' in names, sizes), walltime and grace beyond the
cluster's limits, NaN and infinities, text that cannot be stored; and another org's things answered exactly like
things that do not exist."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock, World, make_world

#: Beyond the database's ids (32-bit on PostgreSQL) and beyond 64 bits.
BIGS = (2**31, 2**64)


def _world(db_url: str, tmp_path: Path, clock: FakeClock, **kw: Any) -> Iterator[World]:
    w = make_world(db_url, tmp_path, clock, **kw)
    yield w
    w.client.close()
    w.app.state.gpucloud.engine.dispose()


@pytest.fixture
def small(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    """Small request limits: 4 KiB bodies; argv of 3 items, 10 bytes each, 20 in all; env of 2 variables,
    names of 5 bytes, values of 8; a cwd of 6 bytes."""
    yield from _world(db_url, tmp_path, clock, max_request_bytes=4096, max_argv_items=3, max_arg_bytes=10,
                      max_argv_bytes=20, max_env_vars=2, max_env_key_bytes=5, max_env_value_bytes=8, max_cwd_bytes=6)


CLUSTER_WITH_LIMITS = """\
name: limited
limits:
  max_walltime: 2d
  max_grace: 1m
  max_walltime_by_priority: {urgent: 1h}
  max_walltime_by_service_class: {preemptible: 7d}
blocks:
  - racks: [{nodes: [{count: 2, gpus: 8, gpu_type: H100-80GB}]}]
"""


@pytest.fixture
def limited(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER_WITH_LIMITS)
    yield from _world(db_url, tmp_path, clock, cluster_file=str(path))


def raw(world: World, user: str, method: str, path: str, body: bytes) -> Any:
    """A request whose JSON body is written by hand (NaN, lone surrogates: what a JSON encoder refuses)."""
    return world.client.request(method, path, content=body,
                                headers={**world.h(user), "content-type": "application/json"})


def fields(r: Any) -> list[str]:
    assert r.status_code == 422, (r.status_code, r.text)
    return [e["field"] for e in r.json()["detail"]]


def expect_fields(world: World, cases: list[tuple[str, str, str, Any, str]]) -> None:
    """Each case (user, method, path, JSON body or raw bytes, field) answers 422 naming exactly that field."""
    wrong = []
    for user, method, path, body, field in cases:
        r = raw(world, user, method, path, body) if isinstance(body, bytes) else world.call(user, method, path, body)
        got = [e["field"] for e in r.json()["detail"]] if r.status_code == 422 else r.status_code
        if got != [field]:
            wrong.append((method, path, body, field, got, r.text[:200]))
    assert not wrong, "\n".join(map(str, wrong))


def job_count(world: World) -> int:
    return len(world.call("admin", "GET", "/api/v1/jobs?limit=1000").json()["items"])


# --- ids and offsets -----------------------------------------------------------------------------------------


BEYOND = [
    ("GET", "/api/v1/jobs/{big}", "job_id"),
    ("POST", "/api/v1/jobs/{big}/cancel", "job_id"),
    ("GET", "/api/v1/jobs/{big}/logs", "job_id"),
    ("GET", "/api/v1/jobs?cursor={big}", "cursor"),
    ("GET", "/api/v1/jobs?cursor=-{big}", "cursor"),
    ("GET", "/api/v1/reservations/{big}", "rid"),
    ("POST", "/api/v1/reservations/{big}/approve", "rid"),
    ("POST", "/api/v1/reservations/{big}/reject", "rid"),
    ("POST", "/api/v1/reservations/{big}/cancel", "rid"),
    ("POST", "/api/v1/tokens/{big}/revoke", "token_id"),
    ("GET", "/api/v1/budgets/alpha/default/ledger?offset={big}", "offset"),
]


def test_ids_beyond_the_database_are_422_naming_the_parameter(world: World) -> None:
    expect_fields(world, [(user, method, path.format(big=big), {} if method == "POST" else None, field)
                          for method, path, field in BEYOND for big in BIGS for user in ("admin", "alice")])


def test_a_log_offset_may_pass_32_bits_but_not_64(world: World) -> None:
    jid = world.submit("alice")["id"]
    assert world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs?offset={2**40}").json()["text"] == ""
    assert fields(world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs?offset={2**64}")) == ["offset"]


def test_the_largest_64_bit_id_is_simply_not_found(world: World) -> None:
    for path in (f"/api/v1/jobs/{2**31 - 1}", f"/api/v1/reservations/{2**31 - 1}"):
        assert world.call("admin", "GET", path).status_code == 404
    assert world.call("admin", "GET", f"/api/v1/jobs?cursor={2**31 - 1}").json()["items"] == []


# --- another org's things ------------------------------------------------------------------------------------

#: (method, path with {org}, body with {org}): what a user of another org asks about alpha.
ORG_SCOPED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/orgs/{org}", None),
    ("PATCH", "/api/v1/orgs/{org}", {"weight": 2}),
    ("GET", "/api/v1/orgs/{org}/projects", None),
    ("POST", "/api/v1/orgs/{org}/projects", {"name": "p2"}),
    ("GET", "/api/v1/orgs/{org}/quotas", None),
    ("PUT", "/api/v1/orgs/{org}/quotas/H100-80GB", {"guaranteed": 1}),
    ("DELETE", "/api/v1/orgs/{org}/quotas/H100-80GB", None),
    ("GET", "/api/v1/budgets/{org}/default/ledger", None),
    ("POST", "/api/v1/budgets/{org}/default/topup", {"amount": "1"}),
    ("GET", "/api/v1/usage/series?org={org}", None),
    ("GET", "/api/v1/jobs?org={org}", None),
    ("GET", "/api/v1/queue?org={org}", None),
    ("POST", "/api/v1/jobs", {"argv": ["true"], "org": "{org}"}),
    ("POST", "/api/v1/users", {"name": "newcomer", "org": "{org}"}),
    ("POST", "/api/v1/reservations", {"gpu_type": "H100", "nodes": 1, "start": 1_800_000_000,
                                      "end": 1_800_003_600, "org": "{org}"}),
]


def _fill(template: Any, org: str) -> Any:
    return json.loads(json.dumps(template).replace("{org}", org)) if template is not None else None


def test_another_orgs_things_answer_like_things_that_do_not_exist(world: World) -> None:
    differ = []
    for method, path, body in ORG_SCOPED:
        for user in ("bob", "beta-admin"):
            theirs = world.call(user, method, path.format(org="alpha"), _fill(body, "alpha"))
            nowhere = world.call(user, method, path.format(org="gamma"), _fill(body, "gamma"))
            if theirs.status_code not in (403, 404) or (theirs.status_code, theirs.text.replace("alpha", "gamma")) != (
                    nowhere.status_code, nowhere.text):
                differ.append((user, method, path, theirs.status_code, theirs.text, nowhere.status_code, nowhere.text))
    assert not differ, "\n".join(map(str, differ))


def test_a_programme_shows_others_only_their_own_org_by_name(world: World) -> None:
    body = {"name": "half", "share": "1/2", "total": "100", "orgs": ["alpha", "beta"]}
    assert world.call("admin", "POST", "/api/v1/programmes", body).status_code == 201
    seen = {u: world.call(u, "GET", "/api/v1/programmes").json()[0]["orgs"] for u in ("admin", "alice", "bob")}
    assert seen == {"admin": ["alpha", "beta"], "alice": ["alpha"], "bob": ["beta"]}


# --- the request body ----------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_on_the_fast_path_and_everywhere(small: World) -> None:
    small.submit("alice", argv=["true"])  # the token and tenants are cached: the fast path takes alice's submits
    before = job_count(small)
    padding = " " * 5000
    big = raw(small, "alice", "POST", "/api/v1/jobs", b'{"argv": ["true"]' + padding.encode() + b"}")
    assert big.status_code == 413 and "4096 bytes" in big.json()["detail"]
    tariffs = raw(small, "admin", "POST", "/api/v1/tariffs", b'{"tariffs": []' + padding.encode() + b"}")
    assert tariffs.status_code == 413
    assert job_count(small) == before
    assert raw(small, "alice", "POST", "/api/v1/jobs", b'{"argv": ["true"]' + b" " * 3000 + b"}").status_code == 201


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(small: World) -> None:
    """Raw ASGI: a body sent in 1,000-byte chunks without Content-Length is answered 413 after about 4 KiB."""
    asked = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": asked < 10_000}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/jobs", "raw_path": b"/api/v1/jobs",
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1), "asgi": {"version": "3.0"},
             "headers": [(b"authorization", f"Bearer {small.tokens['alice']}".encode()),
                         (b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]}
    asyncio.run(small.app(scope, receive, send))
    assert sent[0]["status"] == 413 and asked == 5


# --- a job's command -----------------------------------------------------------------------------------------


BAD_COMMANDS: list[tuple[dict[str, Any], str]] = [
    ({"argv": ["a", "b", "c", "d"]}, "argv"),
    ({"argv": ["a", "b" * 11]}, "argv[1]"),
    ({"argv": ["a" * 10, "b" * 10, "c"]}, "argv"),
    ({"argv": ["python", "-c\x00"]}, "argv[1]"),
    ({"env": {"A": "1", "B": "2", "C": "3"}}, "env"),
    ({"env": {"": "1"}}, "env"),
    ({"env": {"A=B": "1"}}, "env"),
    ({"env": {"A\x00": "1"}}, "env"),
    ({"env": {"LONGER": "1"}}, "env"),
    ({"env": {"A": "x\x00"}}, "env.A"),
    ({"env": {"A": "x" * 9}}, "env.A"),
    ({"cwd": "/tmp\x00"}, "cwd"),
    ({"cwd": "/tmp/xy"}, "cwd"),
    ({"name": "n\x00"}, "name"),
    ({"idempotency_key": "k\x00"}, "idempotency_key"),
    ({"name": "n" * 201}, "name"),
]


def test_a_bad_command_is_refused_at_submit_naming_the_field(small: World) -> None:
    cases = [("alice", "POST", "/api/v1/jobs", {"argv": ["true"], **body}, field) for body, field in BAD_COMMANDS]
    expect_fields(small, cases)  # the route: alice's token and tenants are not cached yet
    small.submit("alice", argv=["true"])  # now they are: the fast path sees each one first
    expect_fields(small, cases)
    assert job_count(small) == 1


UNKEEPABLE: list[tuple[bytes, str]] = [
    (b'{"argv": ["\\ud800"]}', "argv[0]"),
    (b'{"argv": ["true"], "env": {"\\udfff": "1"}}', "env"),
    (b'{"argv": ["true"], "env": {"A": "\\ud800"}}', "env.A"),
    (b'{"argv": ["true"], "name": "\\ud800"}', "name"),
    (b'{"argv": ["true"], "walltime": NaN}', "walltime"),
    (b'{"argv": ["true"], "grace": Infinity}', "grace"),
]


def test_text_and_numbers_that_cannot_be_kept_are_422(small: World) -> None:
    cases = [("alice", "POST", "/api/v1/jobs", body, field) for body, field in UNKEEPABLE]
    expect_fields(small, cases)
    small.submit("alice", argv=["true"])
    expect_fields(small, cases)


# --- walltime and grace ----------------------------------------------------------------------------------------


def expect_limit(world: World, cases: list[tuple[dict[str, Any], str, str]]) -> None:
    for body, field, words in cases:
        r = world.call("alice", "POST", "/api/v1/jobs", {"argv": ["true"], **body})
        assert fields(r) == [field] and words in r.json()["detail"][0]["message"], (body, r.text)


def test_walltime_and_grace_beyond_the_default_limits(world: World) -> None:
    expect_limit(world, [({"walltime": "100000d"}, "walltime", "30d"), ({"walltime": 1e308}, "walltime", "30d"),
                         ({"grace": "1h"}, "grace", "5m")])
    assert job_count(world) == 0


def test_walltime_and_grace_beyond_the_cluster_files_limits(limited: World) -> None:
    expect_limit(limited, [
        ({"walltime": "2d1s"}, "walltime", "max_walltime"),
        ({"walltime": "61m", "priority": "urgent"}, "walltime", "max_walltime_by_priority of urgent"),
        ({"walltime": "8d", "service_class": "preemptible"}, "walltime", "7d"),
        ({"grace": "61s"}, "grace", "max_grace"),
    ])


def test_jobs_within_the_cluster_files_limits_are_accepted(limited: World) -> None:
    for body in ({"walltime": "2d", "grace": "1m"}, {"walltime": "1h", "priority": "urgent"},
                 {"walltime": "7d", "service_class": "preemptible"}):
        limited.submit("alice", argv=["true"], **body)


# --- other endpoints -----------------------------------------------------------------------------------------


ELSEWHERE: list[tuple[str, str, str, Any, str]] = [
    ("admin", "POST", "/api/v1/orgs", b'{"name": "x", "weight": NaN}', "weight"),
    ("admin", "PATCH", "/api/v1/orgs/alpha", b'{"weight": Infinity}', "weight"),
    ("admin", "POST", "/api/v1/budgets/alpha/default/topup", b'{"amount": "1", "expires_at": NaN}', "expires_at"),
    ("admin", "POST", "/api/v1/budgets/alpha/default/topup", b'{"amount": "1", "note": "a\\u0000"}', "note"),
    ("admin", "POST", "/api/v1/programmes", b'{"name": "p", "share": "1/2", "total": "1", "valid_from": NaN}',
     "valid_from"),
    ("admin", "POST", "/api/v1/programmes", b'{"name": "p", "share": "1e-40", "total": "1"}', "share"),
    ("alpha-admin", "POST", "/api/v1/reservations",
     b'{"gpu_type": "H100", "nodes": 1, "start": NaN, "end": 1800003600}', "start"),
    ("alpha-admin", "POST", "/api/v1/reservations",
     b'{"gpu_type": "H100", "nodes": 1, "start": 1800000000, "end": 1800003600, "note": "\\ud800"}', "note"),
    ("admin", "POST", "/api/v1/tariffs", b'{"tariffs": [{"name": "t\\u0000"}]}', "tariffs[0].name"),
    ("admin", "POST", "/api/v1/tariffs", b'{"tariffs": [{"name": "t", "valid_from": Infinity}]}',
     "tariffs[0].valid_from"),
    ("alice", "POST", "/api/v1/tokens", b'{"description": "d\\u0000"}', "description"),
    ("admin", "PUT", "/api/v1/cluster/nodes/b0-r0-n0/state", b'{"state": "down", "reason": "\\ud800"}', "reason"),
    ("admin", "POST", "/api/v1/users", b'{"name": "u", "org": "alpha\\u0000"}', "org"),
    ("admin", "GET", "/api/v1/orgs/al%00pha", None, "org"),
    ("admin", "GET", "/api/v1/users/a%00", None, "name"),
    ("admin", "GET", "/api/v1/jobs?org=%00", None, "org"),
    ("admin", "GET", "/api/v1/budgets/alpha/de%00fault/ledger", None, "project"),
    ("admin", "GET", "/api/v1/tokens?user=x%00", None, "user"),
    ("admin", "GET", "/api/v1/usage/series?from=0&to=1e15", None, "to"),  # no date: was a 500
    ("admin", "GET", "/api/v1/reservations/capacity?start=1e300&end=1e301", None, "start"),
    ("admin", "POST", "/api/v1/budgets/alpha/default/topup", {"amount": "1", "expires_at": 1e300}, "expires_at"),
]


def test_bad_text_and_numbers_elsewhere_are_422_naming_the_field(world: World) -> None:
    expect_fields(world, ELSEWHERE)
