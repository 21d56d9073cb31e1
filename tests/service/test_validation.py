"""Bad input: each gives a 422 whose body names the field (cluster: 4 nodes × 8 H100)."""

from __future__ import annotations

from typing import Any

import pytest
from api_world import World

from gpucloud.durations import parse_duration
from gpucloud.errors import UnknownNameError
from gpucloud.model.priority import PRIORITY_CLASSES, priority_of

BAD_JOBS: list[tuple[str, dict[str, Any], str]] = [
    ("negative walltime", {"walltime": -5}, "walltime"),
    ("zero walltime", {"walltime": 0}, "walltime"),
    ("walltime of wrong form", {"walltime": "1 fortnight"}, "walltime"),
    ("walltime of wrong type", {"walltime": [1]}, "walltime"),
    ("walltime bool", {"walltime": True}, "walltime"),
    ("9 GPUs per node on 8-GPU nodes", {"num_gpus": 9, "nodes": 1}, "num_gpus"),
    ("9 GPUs cannot spread evenly", {"num_gpus": 9}, "num_gpus"),
    ("more nodes than the cluster has", {"num_gpus": 40, "nodes": 5}, "nodes"),
    ("more GPUs than the cluster has", {"num_gpus": 40}, "num_gpus"),
    ("nodes not dividing num_gpus", {"num_gpus": 3, "nodes": 2}, "nodes"),
    ("num_gpus of wrong type", {"num_gpus": "many"}, "num_gpus"),
    ("zero GPUs", {"num_gpus": 0}, "num_gpus"),
    ("unknown GPU type", {"gpu_type": "B200"}, "gpu_type"),
    ("unknown org", {"org": "gamma"}, "org"),
    ("unknown project", {"project": "nope"}, "project"),
    ("unknown priority class", {"priority": "hgih"}, "priority"),
    ("empty argv", {"argv": []}, "argv"),
    ("argv of wrong type", {"argv": "python train.py"}, "argv"),
    ("env of wrong type", {"env": {"A": [1]}}, "env.A"),
    ("negative grace", {"grace": -1}, "grace"),
    ("preemptible of wrong type", {"preemptible": "maybe"}, "preemptible"),
    ("unknown field", {"gpus": 2}, "gpus"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_JOBS, ids=[c[0] for c in BAD_JOBS])
def test_bad_submission_names_the_field(world: World, case: str, body: dict[str, Any], field: str) -> None:
    payload = {"argv": ["true"], "org": "alpha", **body}
    r = world.call("admin", "POST", "/api/v1/jobs", payload)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert [d["field"] for d in detail] == [field], detail
    assert detail[0]["message"]


def test_error_messages_are_helpful(world: World) -> None:
    r = world.call("alice", "POST", "/api/v1/jobs", {"argv": ["x"], "priority": "hgih"}).json()
    assert r["detail"] == [{"field": "priority", "message": "unknown priority class 'hgih'; did you mean 'high'?",
                            "value": "hgih"}]
    r = world.call("alice", "POST", "/api/v1/jobs", {"argv": ["x"], "num_gpus": 9, "nodes": 1}).json()
    assert r["detail"][0]["message"] == "9 GPUs per node exceed the largest node (8 GPUs)"
    r = world.call("alice", "POST", "/api/v1/jobs", {"argv": ["x"], "gpu_type": "H200"}).json()
    assert "this cluster has: H100-80GB" in r["detail"][0]["message"]


@pytest.mark.parametrize(("path", "query", "field"), [
    ("/api/v1/jobs", "limit=0", "limit"),
    ("/api/v1/jobs", "state=sleeping", "state[0]"),  # the first value of the repeatable ?state=
    ("/api/v1/jobs", "cursor=abc", "cursor"),
    ("/api/v1/jobs/abc", "", "job_id"),
    ("/api/v1/jobs/1/logs", "offset=-1", "offset"),
    ("/api/v1/jobs/1/logs", "stream=stdin", "stream"),
])
def test_bad_query_names_the_field(world: World, path: str, query: str, field: str) -> None:
    world.submit("alice")
    r = world.call("alice", "GET", f"{path}?{query}")
    assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == [field]


def test_bad_tenant_input(world: World) -> None:
    cases = [
        ("POST", "/api/v1/orgs", {"name": "bad name!"}, "name"),
        ("POST", "/api/v1/orgs", {"name": "x", "weight": -1}, "weight"),
        ("POST", "/api/v1/users", {"name": "u1", "role": "king", "org": "alpha"}, "role"),
        ("POST", "/api/v1/users", {"name": "u1", "role": "member"}, "org"),
        ("POST", "/api/v1/users", {"name": "u1", "role": "member", "org": "gamma"}, "org"),
        ("PUT", "/api/v1/orgs/alpha/quotas/H100-80GB", {"guaranteed": -1}, "guaranteed"),
        ("PUT", "/api/v1/orgs/alpha/quotas/H100-80GB", {"guaranteed": 1, "borrow_limit": "lots"}, "borrow_limit"),
    ]
    for method, path, body, field in cases:
        r = world.call("admin", method, path, body)
        assert r.status_code == 422, (path, body, r.text)
        assert [d["field"] for d in r.json()["detail"]] == [field], (path, body)


def test_malformed_json_body(world: World) -> None:
    r = world.client.post("/api/v1/jobs", content=b"{not json", headers={**world.h("alice"),
                                                                          "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"]


def test_duplicates_conflict(world: World) -> None:
    assert world.call("admin", "POST", "/api/v1/orgs", {"name": "alpha"}).status_code == 409
    assert world.call("admin", "POST", "/api/v1/users", {"name": "alice", "org": "alpha"}).status_code == 409


def test_parse_duration_and_priorities() -> None:
    assert parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800 and parse_duration(" 90S ") == 90
    for bad in ("", "h", "1h-30m", "1w", None, float("inf")):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert PRIORITY_CLASSES == {"low": -10, "normal": 0, "high": 10, "urgent": 20}
    assert priority_of("urgent") == 20
    with pytest.raises(UnknownNameError, match="did you mean 'normal'"):
        priority_of("norml")
