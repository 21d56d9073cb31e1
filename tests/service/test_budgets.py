"""Budgets and charging in the running service (issue 4), with numbers worked out by hand.

A tariff of 2 points per H100 GPU-hour (no minimum, exact seconds) on a 1 × 4 H100 cluster; the control loop
is driven tick by tick with a hand-moved clock and an executor whose jobs end when the test says so.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from api_world import FakeClock, make_world
from money_books import Manual
from money_rig import Rig, open_rig
from sqlalchemy import func, select

from gpucloud.money.ledger import JobRun
from gpucloud.service import budgets
from gpucloud.service.loop import ControlLoop
from gpucloud.service.store.models import LedgerEntryRow

TARIFF = {"tariffs": [{"name": "fy2026", "valid_from": 1_600_000_000,
                       "points_per_gpu_hour": {"H100-80GB": "2"}, "service_classes": {"standard": "1"}}]}
PROJECT = "alpha/default"


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    with open_rig(db_url, tmp_path, TARIFF) as r:
        yield r


def test_charge_with_refund(rig: Rig) -> None:
    assert rig.top_up("100")["available"] == "100.0000"
    jid = rig.submit(walltime="1h")
    rig.loop.tick()
    job = rig.job(jid)
    assert job["state"] == "running"
    # 2 GPUs × 2 points × 1 h = 4 held
    assert job["estimated_cost"] == "4.0000"
    assert rig.budget()["held"] == "4.0000"
    assert rig.budget()["available"] == "96.0000"
    rig.clock.advance(600)
    rig.executor.finish(jid)
    rig.loop.tick()
    job = rig.job(jid)
    assert job["state"] == "succeeded"
    # 10 minutes: 2 GPUs × 2 points × 600 / 3600 = 0.6666… → 0.6667; the other 3.3333 back
    assert job["final_cost"] == "0.6667"
    b = rig.budget()
    assert (b["balance"], b["held"], b["available"], b["spent"]) == ("99.3333", "0.0000", "99.3333", "0.6667")
    assert rig.ledger() == [("top_up", "100.0000"), ("hold", "4.0000"), ("release", "4.0000"),
                            ("charge", "0.6667")]
    page = rig.world.call("admin", "GET", f"/api/v1/budgets/{PROJECT}/ledger?order=desc&offset=1&limit=2").json()
    assert (page["total"], [e["kind"] for e in page["items"]]) == (4, ["release", "hold"])  # newest first
    rig.verify()


def test_tariff_change_between_two_jobs(rig: Rig) -> None:
    """fy2026 (2 points per GPU-hour) is in force; fy2027 (3 points) starts in 30 minutes. Job A starts now and
    runs an hour, across the change: it pays fy2026 for all of it, 2 GPUs × 1 h × 2 = 4. Job B starts after the
    change and runs an hour: 2 GPUs × 1 h × 3 = 6."""
    now = rig.clock()
    later = {"tariffs": [{"name": "fy2027", "valid_from": now + 1800, "points_per_gpu_hour": {"H100-80GB": "3"},
                          "service_classes": {"standard": "1"}}]}
    assert rig.world.call("admin", "POST", "/api/v1/tariffs", later).status_code == 201
    rig.top_up("100")
    a = rig.submit(walltime="2h")
    rig.loop.tick()
    assert rig.job(a)["estimated_cost"] == "8.0000"  # 2 GPUs × 2 h × 2, at fy2026
    rig.clock.advance(3600)
    rig.executor.finish(a)
    b = rig.submit(walltime="2h")
    rig.loop.tick()
    rig.loop.tick()
    assert rig.job(a)["final_cost"] == "4.0000"
    assert rig.job(b)["estimated_cost"] == "12.0000"  # 2 GPUs × 2 h × 3, at fy2027
    rig.clock.advance(3600)
    rig.executor.finish(b)
    rig.loop.tick()
    assert rig.job(b)["final_cost"] == "6.0000"
    assert rig.budget()["balance"] == "90.0000"  # 100 − 4 − 6
    rig.verify()


def test_job_held_for_budget_is_released_by_a_top_up(rig: Rig) -> None:
    rig.top_up("3")
    jid = rig.submit(walltime="1h")  # needs 4
    rig.loop.tick()
    job = rig.job(jid)
    assert (job["state"], job["reason"]) == ("pending", "budget")
    rig.loop.tick()
    assert rig.job(jid)["state"] == "pending"
    assert rig.ledger() == [("top_up", "3.0000")]
    rig.top_up("1")  # 4 available now: exactly enough
    rig.loop.tick()
    assert rig.job(jid)["state"] == "running"
    assert rig.budget()["available"] == "0.0000"
    rig.clock.advance(3600)
    rig.loop.tick()  # walltime reached: SIGTERM, ends at once
    rig.loop.tick()
    assert rig.job(jid)["state"] == "timed_out"
    assert rig.budget()["balance"] == "0.0000"  # the whole hour: 4
    rig.verify()


def test_preempted_job_is_charged_only_for_the_time_it_ran(rig: Rig) -> None:
    rig.top_up("100")
    low = rig.submit(num_gpus=4, priority="low", walltime="1h")
    rig.loop.tick()
    assert rig.job(low)["state"] == "running"
    assert rig.budget()["held"] == "8.0000"  # 4 GPUs × 2 × 1 h
    rig.clock.advance(1800)
    high = rig.submit(num_gpus=4, priority="high", walltime="2h")
    for _ in range(4):
        rig.loop.tick()
    assert rig.job(low)["state"] == "pending"
    assert rig.job(high)["state"] == "running"
    # low ran 30 min: 4 × 2 × 0.5 = 4 charged, 4 back; high holds 4 × 2 × 2 h = 16
    assert rig.job(low)["final_cost"] == "4.0000"
    b = rig.budget()
    assert (b["balance"], b["held"], b["available"]) == ("96.0000", "16.0000", "80.0000")
    assert rig.ledger()[-3:] == [("release", "8.0000"), ("charge", "4.0000"), ("hold", "16.0000")]
    rig.verify()


def test_ledger_balances_after_a_stream_of_jobs(rig: Rig) -> None:
    rig.top_up("10")
    rig.top_up("5", "beta/default")
    ran: list[int] = []
    for i in range(8):
        jid = rig.submit(user="alice" if i % 2 else "bob", num_gpus=1, walltime="30m")
        rig.loop.tick()
        rig.clock.advance(60 * (i + 1))
        if i % 3 == 0:
            rig.world.call("admin", "POST", f"/api/v1/jobs/{jid}/cancel")
        else:
            rig.executor.finish(jid, code=i % 2)
        rig.loop.tick()
        rig.verify()
        ran.append(jid)
    states = [rig.job(j)["state"] for j in ran]
    assert all(s in ("succeeded", "failed", "cancelled") for s in states), states
    # 1 GPU × 2 points × (60 s × k) / 3600 = k / 30 points for run k (k = 1 … 8), each job ran k minutes
    alpha = sum((Decimal(k) / 30).quantize(Decimal("0.0001")) for k in (2, 4, 6, 8))
    beta = sum((Decimal(k) / 30).quantize(Decimal("0.0001")) for k in (1, 3, 5, 7))
    assert rig.budget()["balance"] == str(Decimal("10.0000") - alpha)
    assert rig.budget("beta/default")["balance"] == str(Decimal("5.0000") - beta)
    r = rig.world.call("admin", "GET", "/api/v1/usage?month=2023-11&format=csv")
    assert r.status_code == 200, r.text
    lines = r.text.strip().splitlines()
    assert lines[0] == "month,org,project,gpu_type,runs,gpu_hours,points,subsidy,charged"
    assert len(lines) == 3 and lines[1].startswith("2023-11,alpha,default,H100-80GB,4,")
    # By user: alice ran jobs 2, 4, 6, 8 (alpha), bob 1, 3, 5, 7 (beta); 2 + 4 + 6 + 8 = 20 GPU-minutes.
    r = rig.world.call("admin", "GET", "/api/v1/usage?month=2023-11&format=json&by_user=true")
    assert [(u["org"], u["user"], u["runs"], u["points"]) for u in r.json()] == [
        ("alpha", "alice", 4, str(alpha)), ("beta", "bob", 4, str(beta))]
    assert r.json()[0]["gpu_hours"] == "0.3333"  # 20 GPU-minutes


def test_no_tariff_means_no_money(db_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    world = make_world(db_url, tmp_path, clock, cluster_file="1x4:H100")
    ctx = world.app.state.gpucloud
    loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, Manual(), engine=ctx.engine, clock=clock)
    jid = int(world.submit("alice", argv=["true"], num_gpus=2)["id"])
    loop.tick()
    job = world.call("admin", "GET", f"/api/v1/jobs/{jid}").json()
    assert job["state"] == "running" and job["estimated_cost"] is None
    assert world.call("alice", "GET", "/api/v1/tariffs").json() == {"tariffs": []}
    loop.leader.release()
    world.client.close()
    ctx.engine.dispose()


def test_only_operators_top_up_and_members_see_their_own_org(rig: Rig) -> None:
    r = rig.world.call("alice", "POST", f"/api/v1/budgets/{PROJECT}/topup", {"amount": "5"})
    assert r.status_code == 403
    # another org's ledger is not found, exactly like one that does not exist
    theirs = rig.world.call("bob", "GET", f"/api/v1/budgets/{PROJECT}/ledger")
    nowhere = rig.world.call("bob", "GET", "/api/v1/budgets/gamma/default/ledger")
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json()["detail"].replace(PROJECT, "gamma/default") == nowhere.json()["detail"]
    orgs = {b["org"] for b in rig.world.call("alice", "GET", "/api/v1/budgets").json()}
    assert orgs == {"alpha"}


def test_concurrent_settles_of_one_run_charge_once(rig: Rig, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL only (SQLite has one writer at a time)")
    rig.top_up("100")
    sessions = rig.world.app.state.gpucloud.sessions
    with sessions.begin() as s:
        project = budgets.find_project(s, "alpha", "default")
        state = budgets.load_state(s, {project.id: PROJECT})
        book = budgets.tariff_book(s)
        assert book is not None
        run = JobRun("77#1", "alpha", PROJECT, "H100-80GB", 2, 3600.0, rig.clock.now, book.in_force(rig.clock.now))
        budgets.append(s, state, state.ledger.hold(run))
    barrier = threading.Barrier(2)
    settled: list[bool] = []

    def settle() -> None:
        with sessions.begin() as s:
            barrier.wait()
            st = budgets.load_state(s, {project.id: PROJECT})
            if "77#1" in st.ledger.holds:
                budgets.append(s, st, st.ledger.settle("77#1", 600.0, rig.clock.now + 600))
                settled.append(True)
            else:
                settled.append(False)

    threads = [threading.Thread(target=settle) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(settled) == [False, True]
    with sessions() as s:
        charges = s.scalar(select(func.count()).select_from(LedgerEntryRow).where(LedgerEntryRow.kind == "charge"))
    assert charges == 1
    assert rig.budget()["balance"] == "99.3333"
    rig.verify()
