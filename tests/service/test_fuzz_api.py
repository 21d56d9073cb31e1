"""The API fuzzed from its own OpenAPI description (schemathesis): every operation, with an operator's, an
org-admin's and a member's token, against the real app in-process on a realistic world (two orgs, users of each
role, jobs pending, running, ended and cancelled, a tariff, budgets, a subsidy programme, quotas, reservations
requested and approved, a node down). No answer may be a 5xx, have a status the description does not list, or
break the response schema it documents.

Deterministic: Hypothesis is derandomized, and every operation starts from a copy of the same database, so an
operation's examples never see what another operation's examples did. Known names and ids are put into a
deterministic share of the generated paths, queries and bodies (:func:`realistic`), so that the fuzzing reaches
past the not-found answers. The caller's own token is never revoked (the fuzzing would lock itself out).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import schemathesis
from api_world import FakeClock
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from money_rig import open_rig
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from gpucloud.service.api import create_app
from gpucloud.service.settings import Settings

#: Examples per operation (each sent with one of the three roles' tokens): about a minute in all on 2 cores.
MAX_EXAMPLES = 25
ROLES = ("admin", "alpha-admin", "alice")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
NOW = 1_700_000_000.0  # 2023-11-14
DAY = 86400.0

CLUSTER = """\
name: fuzz
limits: {max_walltime: 7d, max_grace: 5m, max_walltime_by_priority: {urgent: 1d}}
blocks:
  - name: b
    racks:
      - name: r
        nodes:
          - {name: h, count: 4, gpus: 8, gpu_type: H100-80GB}
          - {name: g, count: 2, gpus: 8, gpu_type: H200-141GB}
"""
TARIFF = {"tariffs": [{
    "name": "fy2023", "valid_from": NOW - DAY,
    "points_per_gpu_hour": {"H100-80GB": "2", "H200-141GB": "3"},
    "service_classes": {"standard": "1", "interactive": "1.5", "preemptible": "0.5", "reserved": "0.8"},
}]}

T = TypeVar("T")


@dataclass
class FuzzWorld:
    """The database every operation starts from (a copy each), and what the fuzzing needs to know of it."""

    template: Path
    cluster_file: Path
    tmp: Path
    tokens: dict[str, str]
    #: known values for path, query and body names (ids as ints)
    known: dict[str, list[Any]]
    #: token ids of the fuzzing's own callers (never revoked)
    own_tokens: set[int]
    #: the operation being fuzzed and its app (the previous one is closed when the next operation starts)
    current: tuple[str, FastAPI] | None = None
    copies: int = 0

    def app_for(self, operation: str) -> FastAPI:
        """A fresh app on a fresh copy of the database for each operation."""
        if self.current is None or self.current[0] != operation:
            self.close()
            self.copies += 1
            db = self.tmp / f"op{self.copies}.db"
            shutil.copyfile(self.template, db)
            settings = Settings(data_dir=self.tmp / f"op{self.copies}", database_url=f"sqlite:///{db}",
                                cluster_file=str(self.cluster_file))
            self.current = (operation, create_app(settings, clock=FakeClock(NOW)))
        return self.current[1]

    def close(self) -> None:
        if self.current is not None:
            self.current[1].state.gpucloud.engine.dispose()
            self.current = None


def _ok(r: Any, *codes: int) -> Any:
    assert r.status_code in (codes or (200, 201)), r.text
    return r.json()


def build_world(tmp: Path) -> FuzzWorld:
    """Orgs alpha and beta with users of every role; jobs in every state; money; reservations; a node down."""
    cluster_file = tmp / "cluster.yaml"
    cluster_file.write_text(CLUSTER)
    clock = FakeClock(NOW)
    template = tmp / "template.db"
    with open_rig(f"sqlite:///{template}", tmp / "template", TARIFF, cluster_file=str(cluster_file),
                  clock=clock) as rig:
        w = rig.world
        for org, amount in (("alpha", "10000"), ("beta", "1000")):
            rig.top_up(amount, f"{org}/default")
        _ok(w.call("alpha-admin", "POST", "/api/v1/orgs/alpha/projects", {"name": "vision"}))
        _ok(w.call("admin", "PUT", "/api/v1/orgs/alpha/quotas/H100-80GB", {"guaranteed": 16, "borrow_limit": 8}))
        _ok(w.call("admin", "POST", "/api/v1/programmes",
                   {"name": "uni-half", "share": "1/2", "total": "1000", "orgs": ["alpha"], "org_cap": "500"}))
        extra = _ok(w.call("alice", "POST", "/api/v1/tokens", {"description": "ci"}))["id"]
        jobs = [w.submit("alice", argv=["train", "--epochs", "3"], num_gpus=1, name="small"),
                w.submit("alice", argv=["train"], num_gpus=16, walltime="2h", env={"SEED": "1"}, project="vision"),
                w.submit("amy", argv=["eval"], num_gpus=8, service_class="interactive", walltime="1h"),
                w.submit("bob", argv=["sweep"], num_gpus=8, gpu_type="H200", priority="high"),
                w.submit("bob", argv=["big"], num_gpus=32, nodes=4, gpu_type="H100", walltime="1d")]  # waits
        rig.loop.tick()
        rig.executor.finish(jobs[0]["id"])
        rig.executor.finish(jobs[3]["id"], code=1)
        clock.advance(600)
        rig.loop.tick()
        pending = w.submit("alice", argv=["later"], num_gpus=32, idempotency_key="k1")
        cancelled = w.submit("alpha-admin", argv=["oops"])
        _ok(w.call("alpha-admin", "POST", f"/api/v1/jobs/{cancelled['id']}/cancel"))
        course = _ok(w.call("alpha-admin", "POST", "/api/v1/reservations",
                            {"gpu_type": "H200", "nodes": 1, "start": NOW + 7 * DAY, "end": NOW + 8 * DAY,
                             "name": "course", "note": "a course"}))
        _ok(w.call("admin", "POST", f"/api/v1/reservations/{course['id']}/approve"))
        asked = _ok(w.call("admin", "POST", "/api/v1/reservations",
                           {"gpu_type": "H100", "nodes": 2, "start": NOW + 2 * DAY, "end": NOW + 3 * DAY,
                            "org": "beta", "name": "sprint"}))
        _ok(w.call("admin", "PUT", "/api/v1/cluster/nodes/b-r-g1/state", {"state": "down", "reason": "fan"}))
        w.submit("alice", argv=["in-course"], reservation="course", walltime="1h", num_gpus=8)
        rig.loop.tick()
        tokens = _ok(w.call("admin", "GET", "/api/v1/tokens"))
        callers = {t["user"]: t["id"] for t in tokens if t["user"] in ROLES}
        job_ids = [j["id"] for j in (*jobs, pending, cancelled)]
        states = {j["state"] for j in _ok(w.call("admin", "GET", "/api/v1/jobs"))["items"]}
        assert {"pending", "running", "succeeded", "failed", "cancelled"} <= states, states
        world_tokens = dict(w.tokens)
    return FuzzWorld(
        template=template, cluster_file=cluster_file, tmp=tmp, tokens=world_tokens,
        own_tokens=set(callers.values()),
        known={
            "org": ["alpha", "beta"], "project": ["default", "vision"], "gpu_type": ["H100-80GB", "H200"],
            "user": ["alice", "bob", "alpha-admin", "beta-admin", "admin"], "node": ["b-r-h0", "b-r-g1"],
            "reservation": ["course", f"#{course['id']}"], "programme": ["uni-half"],
            "job_id": job_ids, "rid": [course["id"], asked["id"]],
            "month": ["2023-11"], "from": ["2023-11-01"], "to": ["2023-12-01"],
            "start": [str(NOW + 7 * DAY)], "end": [str(NOW + 8 * DAY)],
            "token_id": [extra, *(t["id"] for t in tokens if t["user"] not in ROLES)],
        },
    )


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    world = build_world(tmp_path_factory.mktemp("fuzz"))
    yield world
    world.close()




def _pick(case: Any, salt: str, options: Sequence[T]) -> T:
    """A deterministic choice among ``options`` that depends on the case (the same case: the same choice)."""
    key = json.dumps([salt, case.path_parameters, case.query, case.body], sort_keys=True,
                     default=lambda o: type(o).__name__)  # e.g. NotSet: no body (a repr would hold an address)
    return options[zlib.crc32(key.encode("utf-8", "surrogatepass")) % len(options)]


def _known_for(world: FuzzWorld, path: str, name: str) -> list[Any]:
    if name == "name":
        return world.known["programme" if "programmes" in path else "user"]
    return world.known.get(name, [])


#: Values at the edges, put into a share of the parameters and fields that are integers or text.
EDGE_INTS = [0, -1, 2**31, 2**63, 2**64]
EDGE_TEXTS = ["a\x00b", "\u00e9" * 300, " "]
#: Body fields that name something (only these are changed in bodies).
NAMING_FIELDS = ("org", "project", "gpu_type", "user", "reservation")


def realistic(case: Any, world: FuzzWorld) -> None:
    """Put known names and ids (so that requests reach past 'not found') or edge values (0, -1, 2^63, a NUL,
    long text) into about half of the path and query parameters and of the body fields that name something; the
    rest stay as generated."""
    path = case.operation.path
    places: list[dict[str, Any]] = [p for p in (case.path_parameters, case.query) if isinstance(p, dict)]
    if isinstance(case.body, dict):
        places.append(case.body)
    for place in places:
        for name, value in list(place.items()):
            if place is case.body and name not in NAMING_FIELDS:
                continue
            known = _known_for(world, path, name)
            edges = EDGE_INTS if isinstance(value, int) and not isinstance(value, bool) else EDGE_TEXTS
            keep: list[Any] = [None] * (len(known) + len(edges))
            choice = _pick(case, name, [*keep, *known, *known, *edges])
            if choice is not None:
                place[name] = choice
    if path.endswith("/revoke") and case.path_parameters.get("token_id") in world.own_tokens:
        case.path_parameters["token_id"] = world.known["token_id"][0]


def _api_schema() -> Any:
    """The OpenAPI description, from an app on an empty in-memory database."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp), database_url="sqlite://", cluster_file="1x8"))
        raw = app.openapi()
        app.state.gpucloud.engine.dispose()
    return schemathesis.openapi.from_dict(raw)


schema = _api_schema()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
def test_no_server_error_and_every_answer_as_documented(case: Any, fuzz_world: FuzzWorld) -> None:
    realistic(case, fuzz_world)
    role = _pick(case, "role", ROLES)
    app = fuzz_world.app_for(case.operation.label)
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {fuzz_world.tokens[role]}"}, checks=CHECKS)
