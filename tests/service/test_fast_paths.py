"""The performance paths keep the API's behaviour: the token cache honours revocation at once, the fast
submit path answers like the route, group commit stores each submission once (idempotency keys too), and the
loop's queue ranks keep the order while rewriting few rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from api_world import FakeClock, World, make_world

from gpucloud.service.api.schemas import SubmitOut
from gpucloud.service.control.schedule import order_keys


@pytest.fixture
def world(db_url: str, tmp_path: Path, clock: FakeClock) -> World:
    return make_world(db_url, tmp_path, clock)


def test_revoked_token_is_refused_at_once_despite_the_cache(world: World) -> None:
    r = world.call("alice", "POST", "/api/v1/tokens", {"description": "short-lived"})
    raw, token_id = r.json()["token"], r.json()["id"]
    headers = {"Authorization": f"Bearer {raw}"}
    body = {"argv": ["true"], "walltime": 60}
    assert world.client.post("/api/v1/jobs", json=body, headers=headers).status_code == 201  # now cached
    assert world.client.get("/api/v1/me", headers=headers).status_code == 200
    assert world.call("alice", "POST", f"/api/v1/tokens/{token_id}/revoke").status_code == 200
    assert world.client.post("/api/v1/jobs", json=body, headers=headers).status_code == 401
    assert world.client.get("/api/v1/me", headers=headers).status_code == 401


def test_fast_submit_answers_like_the_route(world: World) -> None:
    out = world.submit("alice", argv=["echo", "hi"], env={"A": "1"}, num_gpus=2, name="n")
    assert out == SubmitOut.model_validate(out).model_dump(mode="json")
    assert out["created"] is True and out["state"] == "pending" and out["org"] == "alpha"
    got = world.call("alice", "GET", f"/api/v1/jobs/{out['id']}").json()
    assert {k: got[k] for k in out if k != "created"} == {k: v for k, v in out.items() if k != "created"}
    assert [e["to_state"] for e in got["events"]] == ["pending"]
    # the slow cases still get the route's answers
    assert world.call("alice", "POST", "/api/v1/jobs", {"argv": ["true"], "num_gpus": 99}).status_code == 422
    assert world.call("alice", "POST", "/api/v1/jobs", {"argv": ["true"], "org": "beta"}).status_code == 403
    assert world.call("alice", "POST", "/api/v1/jobs", {"argv": []}).status_code == 422


def test_concurrent_submissions_are_each_stored_once(world: World) -> None:
    def one(i: int) -> dict[str, object]:
        key = f"k{i % 10}" if i % 2 else None
        return world.submit("bob", argv=["true"], idempotency_key=key)

    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(one, range(60)))
    unkeyed = [o for i, o in enumerate(outs) if i % 2 == 0]
    keyed = [o for i, o in enumerate(outs) if i % 2]
    assert len({o["id"] for o in unkeyed}) == 30 and all(o["created"] for o in unkeyed)
    assert len({o["id"] for o in keyed}) == 5  # keys k1, k3, k5, k7, k9
    assert sum(1 for o in keyed if o["created"]) == 5
    page = world.call("bob", "GET", "/api/v1/jobs?limit=1000").json()["items"]
    assert len(page) == 35


def test_order_keys_keep_stored_ranks_that_still_sort() -> None:
    stored: dict[int, int | None] = {1: 0, 2: 1, 3: 2, 4: 3, 5: None}
    # the head (job 1) was admitted: the others keep their ranks, the new job goes last
    assert order_keys([2, 3, 4, 5], stored) == {2: 1, 3: 2, 4: 3, 5: 4}
    # a reordering rewrites only what it must, and the keys always sort like the order
    keys = order_keys([4, 2, 3, 5], stored)
    assert sorted(keys, key=keys.__getitem__) == [4, 2, 3, 5]
