"""Quotas and fair share at a glance (``GET /fairshare``), numbers worked out by hand on the 4 × 8 H100 world:
alpha is guaranteed 16 GPUs and holds 4, beta is guaranteed 8 and holds 20; 8 GPUs are nobody's guarantee."""

from __future__ import annotations

import math

from api_world import World

from gpucloud.core.state import SchedulerConfig
from gpucloud.model.job import JobState
from gpucloud.service.store.models import FairshareUsageRow, JobRow
from gpucloud.service.store.placement import PlacedNode
from gpucloud.service.transitions import apply_transition

TAU = SchedulerConfig().usage_half_life / math.log(2)


def _run(world: World, user: str, placement: list[PlacedNode]) -> None:
    job = world.submit(user, num_gpus=sum(len(p.gpus) for p in placement), nodes=len(placement))
    with world.app.state.gpucloud.sessions.begin() as s:
        row = s.get(JobRow, job["id"])
        assert row is not None
        for st in (JobState.ADMITTED, JobState.RUNNING):
            apply_transition(s, row, st, "test", world.clock(), placement=placement, gpu_type="H100-80GB")


def test_used_borrowed_loans_and_standing(world: World) -> None:
    for org, n in (("alpha", 16), ("beta", 8)):
        r = world.call("admin", "PUT", f"/api/v1/orgs/{org}/quotas/H100-80GB", {"guaranteed": n})
        assert r.status_code == 200, r.text
    eight = tuple(range(8))
    _run(world, "bob", [PlacedNode("b0-r0-n0", eight), PlacedNode("b0-r0-n1", eight)])
    _run(world, "bob", [PlacedNode("b0-r0-n2", (0, 1, 2, 3))])
    _run(world, "alice", [PlacedNode("b0-r0-n2", (4, 5, 6, 7))])
    with world.app.state.gpucloud.sessions.begin() as s:  # alpha held 10 GPUs on average lately, as of now
        s.add(FairshareUsageRow(org="alpha", gpu_type="H100-80GB", gpu_seconds=10 * TAU, as_of=world.clock.now))
    r = world.call("admin", "GET", "/api/v1/fairshare")
    assert r.status_code == 200, r.text
    doc = r.json()
    orgs = {o["org"]: o for o in doc["orgs"]}
    [a], [b] = orgs["alpha"]["types"], orgs["beta"]["types"]
    assert (a["guaranteed"], a["used"], a["borrowed"], a["idle_guaranteed"]) == (16, 4, 0, 12)
    assert (b["guaranteed"], b["used"], b["borrowed"], b["idle_guaranteed"]) == (8, 20, 12, 0)
    # beta's 12 borrowed GPUs: the 8 nobody is guaranteed, then 4 of alpha's idle guarantee
    assert sorted((x["borrower"], x["lender"] or "", x["gpus"]) for x in doc["loans"]) == [
        ("beta", "", 8), ("beta", "alpha", 4)]
    # recent GPUs: alpha 10 + 4 held, beta 20; equal weights, so each is entitled to half
    assert math.isclose(orgs["alpha"]["recent_gpus"], 14) and math.isclose(orgs["beta"]["recent_gpus"], 20)
    assert math.isclose(orgs["alpha"]["usage_share"], 14 / 34) and orgs["alpha"]["entitled_share"] == 0.5
    assert math.isclose(orgs["alpha"]["standing"], 28 / 34) and math.isclose(orgs["beta"]["standing"], 40 / 34)
    assert math.isclose(orgs["beta"]["dominant_share"], 20 / 32)
    assert (orgs["alpha"]["rank"], orgs["beta"]["rank"]) == (1, 2)
    # half a half-life later alpha's past usage counts 1/√2 as much
    world.clock.advance(SchedulerConfig().usage_half_life / 2)
    alpha = next(o for o in world.call("admin", "GET", "/api/v1/fairshare").json()["orgs"] if o["org"] == "alpha")
    assert math.isclose(alpha["recent_gpus"], 4 + 10 / math.sqrt(2))


def test_who_sees_what(world: World) -> None:
    r = world.call("alpha-admin", "GET", "/api/v1/fairshare")
    assert r.status_code == 200
    assert [o["org"] for o in r.json()["orgs"]] == ["alpha"] and r.json()["loans"] == []
    assert world.call("alice", "GET", "/api/v1/fairshare").status_code == 403
