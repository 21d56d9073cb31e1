"""Taking a node down from the API: drained (its jobs run on) or down now (``stop_jobs``: the jobs holding GPUs on
it are asked to stop, with the reason); and the top-up's expiry given as an ISO date, as reservations take it."""

from __future__ import annotations

from api_world import World

from gpucloud.model.job import JobState
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import PlacedNode
from gpucloud.service.transitions import apply_transition


def _running(world: World, user: str, node: str) -> int:
    job = world.submit(user, num_gpus=2)
    with world.app.state.gpucloud.sessions.begin() as s:
        row = s.get(JobRow, job["id"])
        assert row is not None
        for st in (JobState.ADMITTED, JobState.RUNNING):
            apply_transition(s, row, st, "test", world.clock(), placement=[PlacedNode(node, (0, 1))],
                             gpu_type="H100-80GB")
    return int(job["id"])


def test_drain_keeps_jobs_and_down_now_stops_them(world: World) -> None:
    a = _running(world, "alice", "b0-r0-n0")
    b = _running(world, "bob", "b0-r0-n1")
    r = world.call("admin", "PUT", "/api/v1/cluster/nodes/b0-r0-n0/state", {"state": "down", "reason": "fan"})
    assert r.status_code == 200 and r.json()["stopped_jobs"] == []
    assert world.call("admin", "GET", f"/api/v1/jobs/{a}").json()["cancel_requested"] is False
    r = world.call("admin", "PUT", "/api/v1/cluster/nodes/b0-r0-n0/state",
                   {"state": "down", "reason": "PSU on fire", "stop_jobs": True})
    assert r.status_code == 200 and r.json()["stopped_jobs"] == [a]
    job = world.call("alice", "GET", f"/api/v1/jobs/{a}").json()
    assert job["cancel_requested"] is True and job["reason"] == "node b0-r0-n0 taken down by admin: PSU on fire"
    assert world.call("admin", "GET", f"/api/v1/jobs/{b}").json()["cancel_requested"] is False
    r = world.call("alpha-admin", "PUT", "/api/v1/cluster/nodes/b0-r0-n1/state", {"state": "down", "stop_jobs": True})
    assert r.status_code == 403
    assert world.call("admin", "GET", f"/api/v1/jobs/{b}").json()["cancel_requested"] is False


def test_top_up_expiry_as_an_iso_date(world: World) -> None:
    r = world.call("admin", "POST", "/api/v1/budgets/alpha/default/topup",
                   {"amount": "10", "expires_at": "2026-12-07"})
    assert r.status_code == 200, r.text
    assert r.json()["expires_at"] == 1_796_601_600  # 2026-12-07T00:00:00Z
    r = world.call("admin", "POST", "/api/v1/budgets/alpha/default/topup",
                   {"amount": "10", "expires_at": "2026-12-07T09:00:00+09:00"})
    assert r.json()["expires_at"] == 1_796_601_600
    r = world.call("admin", "POST", "/api/v1/budgets/alpha/default/topup", {"amount": "10", "expires_at": "soon"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "expires_at"
