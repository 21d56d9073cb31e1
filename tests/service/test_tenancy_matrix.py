"""The cross-tenant matrix: each role × each endpoint × own/other org; every forbidden call is refused.

Roles (see docs/api.md): ``admin`` operator; alpha: ``alpha-admin`` (org-admin), ``alice`` (member, owns the
target job), ``amy`` (another member); beta: ``beta-admin``, ``bob``. Things a caller may not see → 404;
actions on things it may see but may not take → 403; everything else succeeds (2xx).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api_world import World

OK = 200  # any 2xx
ACTORS = ("alpha-admin", "alice", "amy", "beta-admin", "bob", "admin")  # the operator last


def _all(code: int) -> dict[str, int]:
    return dict.fromkeys(ACTORS, code)


#: Who may act on a thing that belongs to alice (member of alpha).
ALICES = {"admin": OK, "alpha-admin": OK, "alice": OK, "amy": 404, "beta-admin": 404, "bob": 404}
#: Who may read something of org alpha.
ALPHA_READ = {"admin": OK, "alpha-admin": OK, "alice": OK, "amy": OK, "beta-admin": 404, "bob": 404}
#: Operator-only actions on org alpha.
ALPHA_OPERATOR = {"admin": OK, "alpha-admin": 403, "alice": 403, "amy": 403, "beta-admin": 404, "bob": 404}
#: Actions of operators and alpha's admins on org alpha.
ALPHA_MANAGE = {"admin": OK, "alpha-admin": OK, "alice": 403, "amy": 403, "beta-admin": 404, "bob": 404}
OPERATOR_ONLY = {**_all(403), "admin": OK}
EVERYONE = _all(OK)

_names = itertools.count()


def fresh_job(w: World) -> Any:
    return w.submit("alice")["id"]


def fresh_token(w: World) -> Any:
    return w.call("admin", "POST", "/api/v1/tokens", {"user": "alice", "description": "t"}).json()["id"]


def fresh_name(_: World) -> str:
    return f"user{next(_names)}"


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expect: dict[str, int]
    body: dict[str, Any] | None = None
    #: Placeholder → factory, called before every request (so that each actor acts on a fresh target).
    fresh: tuple[tuple[str, Callable[[World], Any]], ...] = ()


JOB = (("job", fresh_job),)
CASES = [
    Case("GET", "/api/v1/me", EVERYONE),
    Case("GET", "/api/v1/cluster", EVERYONE),
    Case("POST", "/api/v1/cluster/reload", OPERATOR_ONLY),
    # jobs
    Case("GET", "/api/v1/jobs/{job}", ALICES, fresh=JOB),
    Case("POST", "/api/v1/jobs/{job}/cancel", ALICES, fresh=JOB),
    Case("GET", "/api/v1/jobs/{job}/logs", ALICES, fresh=JOB),
    Case("GET", "/api/v1/jobs/{job}/logs?stream=stderr", ALICES, fresh=JOB),
    Case("GET", "/api/v1/jobs", EVERYONE),
    Case("GET", "/api/v1/jobs?org=alpha", ALPHA_READ),
    Case("GET", "/api/v1/jobs?user=alice", ALICES),
    Case("POST", "/api/v1/jobs", {**ALPHA_READ, "beta-admin": 403, "bob": 403},
         body={"argv": ["true"], "org": "alpha"}),
    Case("GET", "/api/v1/queue", EVERYONE),
    Case("GET", "/api/v1/queue?org=alpha", ALPHA_READ),
    # orgs, projects, quotas
    Case("POST", "/api/v1/orgs", OPERATOR_ONLY, body={"name": "{name}"}, fresh=(("name", fresh_name),)),
    Case("GET", "/api/v1/orgs", EVERYONE),
    Case("GET", "/api/v1/orgs/alpha", ALPHA_READ),
    Case("PATCH", "/api/v1/orgs/alpha", ALPHA_OPERATOR, body={"weight": 2}),
    Case("GET", "/api/v1/orgs/alpha/projects", ALPHA_READ),
    Case("POST", "/api/v1/orgs/alpha/projects", ALPHA_MANAGE, body={"name": "{name}"},
         fresh=(("name", fresh_name),)),
    Case("GET", "/api/v1/orgs/alpha/quotas", ALPHA_MANAGE),
    Case("PUT", "/api/v1/orgs/alpha/quotas/H100-80GB", ALPHA_OPERATOR, body={"guaranteed": 8}),
    Case("DELETE", "/api/v1/orgs/alpha/quotas/H100-80GB", ALPHA_OPERATOR),
    # users and tokens
    Case("POST", "/api/v1/users", {**ALPHA_MANAGE, "beta-admin": 403, "bob": 403},
         body={"name": "{name}", "role": "member", "org": "alpha"}, fresh=(("name", fresh_name),)),
    Case("POST", "/api/v1/users", OPERATOR_ONLY, body={"name": "{name}", "role": "operator"},
         fresh=(("name", fresh_name),)),
    Case("GET", "/api/v1/users", {"admin": OK, "alpha-admin": OK, "beta-admin": OK, "alice": 403, "amy": 403,
                                  "bob": 403}),
    Case("GET", "/api/v1/users/alice", ALICES),
    Case("POST", "/api/v1/tokens", ALICES, body={"user": "alice"}),
    Case("GET", "/api/v1/tokens", EVERYONE),
    Case("GET", "/api/v1/tokens?user=alice", ALICES),
    Case("POST", "/api/v1/tokens/{token}/revoke", ALICES, fresh=(("token", fresh_token),)),
]


def _fill(value: Any, subs: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**subs)
    if isinstance(value, dict):
        return {k: _fill(v, subs) for k, v in value.items()}
    return value


def test_cross_tenant_matrix(world: World) -> None:
    world.call("admin", "PUT", "/api/v1/orgs/alpha/quotas/H100-80GB", {"guaranteed": 4})
    wrong: list[str] = []
    calls = 0
    for case in CASES:
        assert set(case.expect) == set(ACTORS), case.path
        for actor in ACTORS:
            if case.method == "DELETE" and actor == "admin":
                world.call("admin", "PUT", "/api/v1/orgs/alpha/quotas/H100-80GB", {"guaranteed": 4})
            subs = {k: make(world) for k, make in case.fresh}
            path = _fill(case.path, subs)
            r = world.call(actor, case.method, path, _fill(case.body, subs))
            calls += 1
            want = case.expect[actor]
            got_ok = 200 <= r.status_code < 300
            if (want == OK and not got_ok) or (want != OK and r.status_code != want):
                wrong.append(f"{actor:12} {case.method:6} {path}: want {want}, got {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)
    assert calls == len(CASES) * len(ACTORS)


def test_lists_show_only_what_the_caller_may_see(world: World) -> None:
    ja = world.submit("alice")["id"]
    jb = world.submit("bob")["id"]
    ids = {u: {j["id"] for j in world.call(u, "GET", "/api/v1/jobs").json()["items"]} for u in ACTORS}
    assert ids == {"admin": {ja, jb}, "alpha-admin": {ja}, "alice": {ja}, "amy": set(), "beta-admin": {jb},
                   "bob": {jb}}
    queue = {u: [e["job"]["id"] for e in world.call(u, "GET", "/api/v1/queue").json()["items"]] for u in ACTORS}
    assert queue == {"admin": [ja, jb], "alpha-admin": [ja], "alice": [ja], "amy": [ja], "beta-admin": [jb],
                     "bob": [jb]}
    assert world.call("bob", "GET", "/api/v1/queue").json()["items"][0]["position"] == 2
    assert [o["name"] for o in world.call("bob", "GET", "/api/v1/orgs").json()] == ["beta"]
    assert {u["name"] for u in world.call("beta-admin", "GET", "/api/v1/users").json()} == {"beta-admin", "bob"}
    tokens = world.call("alpha-admin", "GET", "/api/v1/tokens").json()
    assert {t["user"] for t in tokens} == {"alpha-admin", "alice", "amy"}
    assert all("token" not in t for t in tokens)


def test_unknown_token_and_missing_token_are_401(world: World) -> None:
    assert world.client.get("/api/v1/jobs").status_code == 401
    r = world.client.get("/api/v1/jobs", headers={"Authorization": "Bearer gpc_not-a-token"})
    assert r.status_code == 401 and r.json() == {"detail": "unknown or revoked token"}
    assert world.client.get("/healthz").status_code == 200
