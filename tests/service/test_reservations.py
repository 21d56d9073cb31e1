"""Reservations, node states and service classes in the running service, with numbers worked out by hand.

The cluster is 4 × 8 H100 (one rack). The tariff: 2 points per H100 GPU-hour; service classes standard ×1,
shared ×1.5 (a standard job holding part of one node), reserved ×1.5, preemptible ×0.5; no minimum, exact
seconds. A reservation of 2 nodes for 2 hours therefore
costs 2 × 8 GPUs × 2 h × 2 points × 1.5 = 96 points. The clock starts at T0 and is moved by hand; jobs end
when the test says so (the ``Manual`` executor of money_books).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock
from money_rig import Rig, open_rig

T0 = 1_700_000_000.0
H = 3600.0
TARIFF = {"tariffs": [{"name": "fy2026", "valid_from": 1_600_000_000,
                       "points_per_gpu_hour": {"H100-80GB": "2"},
                       "service_classes": {"standard": "1", "interactive": "1", "reserved": "1.5",
                                           "preemptible": "0.5", "shared": "1.5"}}]}


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    with open_rig(db_url, tmp_path, TARIFF, cluster_file="4x8:H100", clock=FakeClock(T0)) as r:
        r.top_up("1000", "alpha/default")
        r.top_up("1000", "beta/default")
        yield r


def call(rig: Rig, user: str, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    r = rig.world.call(user, method, path, body)
    assert r.status_code == status, r.text
    return r.json()


def reserve(rig: Rig, nodes: int = 2, start: float = T0 + 2 * H, end: float = T0 + 4 * H, user: str = "alpha-admin",
            status: int = 201, **kw: Any) -> Any:
    return call(rig, user, "POST", "/api/v1/reservations",
                {"gpu_type": "H100", "nodes": nodes, "start": start, "end": end, **kw}, status)


def nodes_of(rig: Rig, jid: int) -> set[str]:
    return {p["node"] for p in rig.job(jid)["placement"]}


def test_reservation_blocks_another_org_and_is_refunded_on_early_cancel(rig: Rig) -> None:
    rig.world.settings.reservation_cancel_cutoff_s = H  # refunds up to an hour before the start
    r = reserve(rig, name="train-run")
    assert (r["state"], r["price"], r["node_names"]) == ("requested", None, None)
    r = call(rig, "admin", "POST", f"/api/v1/reservations/{r['id']}/approve")
    booked = set(r["node_names"])
    # 2 nodes × 8 GPUs × 2 h × 2 points × 1.5 (reserved) = 96 points, charged at booking; refundable until
    # an hour (the cut-off) before the start at T0 + 2 h
    assert (r["state"], r["price"], len(booked)) == ("approved", "96.0000", 2)
    assert r["refundable_until"] == T0 + H
    assert rig.budget("alpha/default")["balance"] == "904.0000"

    # beta's 3-hour jobs would run into the window: only the two other nodes take them. A 1-hour job ends
    # before the window opens, so it may backfill onto a reserved node.
    long = [rig.submit("bob", num_gpus=8, walltime="3h") for _ in range(3)]
    short = rig.submit("bob", num_gpus=8, walltime="1h")
    mine = rig.submit("alice", num_gpus=16, walltime="1h", reservation="train-run")
    rig.loop.tick()
    states = [rig.job(j)["state"] for j in long]
    assert states.count("running") == 2 and states.count("pending") == 1
    for j in long:
        if rig.job(j)["state"] == "running":
            assert not nodes_of(rig, j) & booked
    assert rig.job(short)["state"] == "running" and nodes_of(rig, short) <= booked
    assert rig.job(mine)["state"] == "pending" and rig.job(mine)["reason"] == "reservation"
    assert rig.job(mine)["service_class"] == "reserved"
    assert rig.job(mine)["estimated_cost"] is None  # paid by the reservation

    # alpha cancels 2 h before the start, before the 1-hour cut-off: all 96 points come back, and the job
    # waiting for the reservation is cancelled with it.
    r = call(rig, "alpha-admin", "POST", f"/api/v1/reservations/{r['id']}/cancel")
    assert (r["state"], r["refunded"]) == ("cancelled", "96.0000")
    assert rig.budget("alpha/default")["balance"] == "1000.0000"
    assert rig.ledger("alpha/default") == [("top_up", "1000.0000"), ("charge", "96.0000"), ("refund", "96.0000")]
    assert rig.job(mine)["state"] == "cancelled"
    # The nodes are free for anyone again: beta's third long job starts on the reserved node left idle.
    rig.loop.tick()
    assert [rig.job(j)["state"] for j in long].count("running") == 3
    rig.verify()


def test_named_job_runs_in_the_window_and_others_stay_off(rig: Rig) -> None:
    r = reserve(rig, nodes=1, start=T0 + H, end=T0 + 3 * H)
    r = call(rig, "admin", "POST", f"/api/v1/reservations/{r['id']}/approve")
    # 1 node × 8 GPUs × 2 h × 2 × 1.5 = 48 points
    assert r["price"] == "48.0000"
    booked = set(r["node_names"])
    mine = rig.submit("alice", num_gpus=8, walltime="2h", reservation=r["name"])
    too_long = call(rig, "alice", "POST", "/api/v1/jobs", {"argv": ["true"], "num_gpus": 8, "walltime": "3h",
                                                           "reservation": r["name"]}, 422)
    assert too_long["detail"][0]["field"] == "walltime_s"
    rig.loop.tick()
    assert rig.job(mine)["reason"] == "reservation"
    rig.clock.advance(H)  # the window opens
    others = [rig.submit("bob", num_gpus=8, walltime="5h") for _ in range(4)]
    rig.loop.tick()
    assert rig.job(mine)["state"] == "running" and nodes_of(rig, mine) == booked
    running = [j for j in others if rig.job(j)["state"] == "running"]
    assert len(running) == 3 and all(not nodes_of(rig, j) & booked for j in running)
    rig.executor.finish(mine)
    rig.loop.tick()
    # The job inside the reservation costs nothing more; the reservation was paid at booking.
    assert rig.job(mine)["final_cost"] is None
    assert rig.budget("alpha/default")["balance"] == "952.0000"
    # The usage report counts the reservation: 1 node × 8 GPUs × 2 h = 16 GPU-hours for 48 points.
    month = call(rig, "admin", "GET", "/api/v1/usage?month=2023-11")
    assert [(u["org"], u["gpu_hours"], u["points"]) for u in month] == [("alpha", "16.0000", "48.0000")]
    # The node stays alpha's until the window ends, even idle: bob's fourth job waits for it.
    rig.loop.tick()
    waiting = [j for j in others if rig.job(j)["state"] == "pending"]
    assert len(waiting) == 1
    rig.clock.advance(H)  # T0 + 2 h: the window is still open
    rig.loop.tick()
    assert rig.job(waiting[0])["state"] == "pending"
    rig.clock.advance(H)  # T0 + 3 h: it has ended
    rig.loop.tick()
    assert rig.job(waiting[0])["state"] == "running" and nodes_of(rig, waiting[0]) == booked
    rig.verify()


def test_cancel_after_the_cut_off_is_not_refunded(rig: Rig) -> None:
    # The default cut-off is a day; a reservation cancelled 2 h before its start keeps its price.
    r = reserve(rig, nodes=1)
    r = call(rig, "admin", "POST", f"/api/v1/reservations/{r['id']}/approve")
    r = call(rig, "alpha-admin", "POST", f"/api/v1/reservations/{r['id']}/cancel")
    # 1 × 8 × 2 h × 2 × 1.5 = 48 paid, nothing back
    assert (r["state"], r["price"], r["refunded"], r["refundable_until"]) == ("cancelled", "48.0000", "0.0000",
                                                                            None)
    assert rig.budget("alpha/default")["balance"] == "952.0000"
    rig.verify()


def test_jobs_of_a_rejected_or_ended_reservation_are_cancelled(rig: Rig) -> None:
    rejected = reserve(rig, nodes=1, name="no")
    ended = reserve(rig, nodes=1, start=T0 + 60, end=T0 + 120, name="short")
    a = rig.submit("alice", num_gpus=8, walltime="60s", reservation="no")
    b = rig.submit("alice", num_gpus=8, walltime="60s", reservation="short")
    rig.loop.tick()
    assert [rig.job(j)["reason"] for j in (a, b)] == ["reservation", "reservation"]
    call(rig, "admin", "POST", f"/api/v1/reservations/{rejected['id']}/reject", {"note": "not now"})
    rig.clock.advance(121)  # "short" was never approved and its window has passed; the loop's housekeeping
    rig.loop.tick()         # (every 60 s) cancels both jobs
    assert [rig.job(j)["state"] for j in (a, b)] == ["cancelled", "cancelled"]
    assert call(rig, "alice", "GET", f"/api/v1/reservations/{ended['id']}")["state"] == "requested"


def test_approval_needs_free_nodes_and_money(rig: Rig) -> None:
    # Three 8-GPU jobs run for 5 h: only one node is free for a window starting in 2 h.
    for _ in range(3):
        rig.submit("bob", num_gpus=8, walltime="5h")
    rig.loop.tick()
    r = reserve(rig, nodes=2)
    err = call(rig, "admin", "POST", f"/api/v1/reservations/{r['id']}/approve", status=409)
    assert "only 1 nodes" in err["detail"]
    cap = call(rig, "alice", "GET", f"/api/v1/reservations/capacity?start={T0 + 2 * H}&end={T0 + 4 * H}")
    assert cap == [{"gpu_type": "H100-80GB", "node_gpus": 8, "nodes": 4, "free": 1}]
    # A window after the jobs' walltime (5 h) has all four.
    cap = call(rig, "alice", "GET", f"/api/v1/reservations/capacity?start={T0 + 6 * H}&end={T0 + 7 * H}")
    assert cap[0]["free"] == 4
    # 4 nodes × 8 × 24 h × 2 × 1.5 = 2304 points > the 1000 alpha has: refused at the request.
    err = reserve(rig, nodes=4, start=T0 + 6 * H, end=T0 + 30 * H, status=422)
    assert err["detail"][0]["field"] == "nodes" and "2304" in err["detail"][0]["message"]


def test_a_tariff_without_a_reserved_rate_is_a_clear_409(rig: Rig) -> None:
    later = {"tariffs": [{"name": "fy2027", "valid_from": T0 - 1, "points_per_gpu_hour": {"H100-80GB": "2"},
                          "service_classes": {"standard": "1"}}]}
    call(rig, "admin", "POST", "/api/v1/tariffs", later, 201)
    err = reserve(rig, nodes=1, status=409)
    assert "fy2027" in err["detail"] and "reserved" in err["detail"]


def test_automatic_approval_rule(rig: Rig) -> None:
    rig.world.settings.reservation_auto_approve_nodes = 1
    r = reserve(rig, nodes=1)
    assert r["state"] == "approved" and r["price"] == "48.0000"
    r = reserve(rig, nodes=2, start=T0 + 5 * H, end=T0 + 6 * H)
    assert r["state"] == "requested"


def test_who_may_do_what(rig: Rig) -> None:
    reserve(rig, user="alice", status=403)                       # members do not reserve
    reserve(rig, user="alpha-admin", org="beta", status=403)     # nor for another org
    r = reserve(rig)
    call(rig, "alpha-admin", "POST", f"/api/v1/reservations/{r['id']}/approve", status=403)
    call(rig, "beta-admin", "POST", f"/api/v1/reservations/{r['id']}/cancel", status=404)
    call(rig, "bob", "GET", f"/api/v1/reservations/{r['id']}", status=404)
    assert call(rig, "bob", "GET", "/api/v1/reservations") == []
    assert [x["id"] for x in call(rig, "alice", "GET", "/api/v1/reservations")] == [r["id"]]
    r = call(rig, "admin", "POST", f"/api/v1/reservations/{r['id']}/approve")
    # The map shows the reserved nodes to everyone, whose they are only to alpha (and operators).
    for user, org in (("alice", "alpha"), ("bob", None), ("admin", "alpha")):
        nodes = [n for b in call(rig, user, "GET", "/api/v1/cluster")["blocks"] for rk in b["racks"]
                 for n in rk["nodes"] if n["reservation"]]
        assert {n["name"] for n in nodes} == set(r["node_names"])
        assert {n["reservation"]["org"] for n in nodes} == {org}
        assert not any(n["reservation"]["active"] for n in nodes)


def test_bad_reservation_input_names_the_field(rig: Rig) -> None:
    cases = [({"gpu_type": "B300"}, "gpu_type"), ({"nodes": 5}, "nodes"), ({"start": T0 - 1}, "start"),
             ({"end": T0 + 2 * H}, "end"), ({"start": "tomorrow"}, "start"), ({"nodes": 0}, "nodes")]
    for change, field in cases:
        body = {"gpu_type": "H100", "nodes": 1, "start": T0 + 2 * H, "end": T0 + 4 * H, **change}
        err = call(rig, "alpha-admin", "POST", "/api/v1/reservations", body, 422)
        assert err["detail"][0]["field"].split(".")[-1] == field, (change, err)
    # ISO 8601 times are accepted (2023-11-14T22:13:20Z is T0)
    r = reserve(rig, start="2023-11-15T02:13:20+00:00", end="2023-11-15T03:13:20Z")
    assert (r["start"], r["end"]) == (T0 + 4 * H, T0 + 5 * H)
    err = call(rig, "alice", "POST", "/api/v1/jobs", {"argv": ["true"], "reservation": "nope"}, 422)
    assert err["detail"][0]["field"] == "reservation"


def test_down_node_takes_no_new_jobs(rig: Rig) -> None:
    cluster = call(rig, "alice", "GET", "/api/v1/cluster")
    names = [n["name"] for b in cluster["blocks"] for rk in b["racks"] for n in rk["nodes"]]
    call(rig, "alice", "PUT", f"/api/v1/cluster/nodes/{names[0]}/state", {"state": "down"}, 403)
    call(rig, "admin", "PUT", "/api/v1/cluster/nodes/nope/state", {"state": "down"}, 404)
    out = call(rig, "admin", "PUT", f"/api/v1/cluster/nodes/{names[0]}/state", {"state": "down", "reason": "bad fan"})
    assert out == {"node": names[0], "state": "down", "reason": "bad fan", "stopped_jobs": []}
    jobs = [rig.submit("bob", num_gpus=8, walltime="1h") for _ in range(4)]
    rig.loop.tick()
    assert [rig.job(j)["state"] for j in jobs].count("running") == 3
    assert all(names[0] not in nodes_of(rig, j) for j in jobs if rig.job(j)["state"] == "running")
    node = next(n for b in call(rig, "bob", "GET", "/api/v1/cluster")["blocks"] for rk in b["racks"]
                for n in rk["nodes"] if n["name"] == names[0])
    assert (node["state"], node["state_reason"]) == ("down", "bad fan")
    call(rig, "admin", "PUT", f"/api/v1/cluster/nodes/{names[0]}/state", {"state": "up"})
    rig.loop.tick()
    assert [rig.job(j)["state"] for j in jobs].count("running") == 4


def test_service_class_prices_the_hold(rig: Rig) -> None:
    # 2 GPUs × 1 h × 2 points × 0.5 (preemptible) = 2 points held. A standard 2-GPU job holds part of an 8-GPU
    # node: the shared class, 2 × 1 h × 2 × 1.5 = 6. A standard whole node: 8 × 1 h × 2 × 1 = 16. Two whole
    # nodes: 32.
    cheap = rig.submit("alice", walltime="1h", service_class="preemptible")
    part = rig.submit("alice", walltime="1h")
    node = rig.submit("alice", num_gpus=8, walltime="1h")
    two = rig.submit("alice", num_gpus=16, walltime="1h")
    rig.loop.tick()
    assert [rig.job(j)["estimated_cost"] for j in (cheap, part, node, two)] == ["2.0000", "6.0000", "16.0000",
                                                                                "32.0000"]
    # The run keeps the class it was held at: 10 minutes of the shared job cost 2 × 2 × 1.5 / 6 = 1.
    rig.clock.advance(600)
    rig.executor.finish(part)
    rig.loop.tick()
    assert rig.job(part)["final_cost"] == "1.0000"
    err = call(rig, "alice", "POST", "/api/v1/jobs", {"argv": ["true"], "service_class": "reserved"}, 422)
    assert err["detail"][0]["field"] == "service_class"
    err = call(rig, "alice", "POST", "/api/v1/jobs", {"argv": ["true"], "service_class": "preemptible",
                                                      "preemptible": False}, 422)
    assert err["detail"][0]["field"] == "preemptible"
