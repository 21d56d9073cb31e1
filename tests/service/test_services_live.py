"""Services in the live system: the API (who may do what, bad input), and the control loop with the real local
executor and a hand-moved clock — replicas start as processes, follow a pushed scale change, are restarted when
they die, a preemptible job in the way of a rise gets SIGTERM its grace period before the replicas must start, and
GPUs a RAN site lends are priced at the preemptible class.

Cluster ``2x4:H100``: nodes ``b0-r0-n0`` and ``b0-r0-n1`` of 4 GPUs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock, World, close_world, make_world, stop_loop

from gpucloud.service.executors.local import LocalExecutor
from gpucloud.service.loop import ControlLoop, LoopConfig

DEADLINE_S = 10.0
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


class Rig:
    def __init__(self, world: World, clock: FakeClock, tmp: Path) -> None:
        ctx = world.app.state.gpucloud
        self.world, self.clock, self.tmp = world, clock, tmp
        self.loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, LocalExecutor(world.settings.data_dir),
                                engine=ctx.engine, clock=clock, config=LoopConfig(policy="backfill"))

    def crash(self) -> None:
        """Drop the loop as ``kill -9`` would (its processes keep running) and let a new one take over."""
        ctx = self.world.app.state.gpucloud
        self.loop.leader.release()
        self.loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, LocalExecutor(self.world.settings.data_dir),
                                engine=ctx.engine, clock=self.clock, config=LoopConfig(policy="backfill"))

    def api(self, user: str, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = self.world.call(user, method, f"/api/v1{path}", body)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.api("admin", "GET", "/jobs?limit=100")["items"])

    def until(self, pred: Callable[[], bool], what: str) -> None:
        end = time.monotonic() + DEADLINE_S
        while not pred():
            if time.monotonic() > end:
                raise AssertionError(f"never: {what}; jobs: {[(j['id'], j['name'], j['state']) for j in self.jobs()]}")
            self.loop.tick()
            time.sleep(0.02)

    def replicas(self, state: str = "running") -> list[dict[str, Any]]:
        return [j for j in self.jobs() if j["name"].startswith("ran/") and j["state"] == state]


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    clock = FakeClock()
    world = make_world(db_url, tmp_path, clock, cluster_file="2x4:H100")
    r = Rig(world, clock, tmp_path)
    yield r
    stop_loop(r.loop)
    close_world(world)


def service(marks: Path, demand: dict[str, Any], **kw: Any) -> dict[str, Any]:
    script = f'echo "$GPUCLOUD_REPLICA $CUDA_VISIBLE_DEVICES $$" >> {marks}; exec sleep 60'
    body = {"name": "ran", "class": "ran", "gpus_per_replica": 2, "gpu_type": "H100-80GB", "sites": ["b0-r0-n0"],
            "demand": demand, "argv": ["sh", "-c", script], "grace_s": 1, "org": "alpha"}
    return {**body, **kw}


def test_replicas_run_as_processes_follow_a_pushed_scale_and_are_restarted(rig: Rig) -> None:
    marks = rig.tmp / "replicas.txt"
    made = rig.api("admin", "POST", "/services", service(marks, {"replicas": 1}), status=201)
    assert (made["class"], made["wanted"], made["replicas"]) == ("ran", 1, 0)
    rig.until(lambda: len(rig.replicas()) == 1 and marks.exists(), "one replica running")
    assert marks.read_text().split()[:2] == ["0", "0,1"]
    rig.api("alpha-admin", "POST", "/services/ran/scale", {"replicas": 2})
    rig.until(lambda: len(rig.replicas()) == 2 and len(marks.read_text().splitlines()) == 2, "two replicas")
    assert sorted(line.split()[1] for line in marks.read_text().splitlines()) == ["0,1", "2,3"]
    assert rig.api("alice", "GET", "/services/ran")["replicas"] == 2
    before = sorted(j["id"] for j in rig.replicas())
    rig.crash()  # a new loop re-attaches the replicas: none is started twice
    for _ in range(5):
        rig.loop.tick()
    assert sorted(j["id"] for j in rig.replicas()) == before and len(marks.read_text().splitlines()) == 2
    rig.api("alpha-admin", "POST", "/services/ran/scale", {"replicas": 1})
    rig.until(lambda: len(rig.replicas()) == 1 and len(rig.replicas("cancelled")) == 1, "scaled back to one")
    # a replica that dies is started again
    pid = int(marks.read_text().splitlines()[0].split()[2])
    os.kill(pid, signal.SIGKILL)
    rig.until(lambda: len(rig.replicas("failed")) == 1 and len(rig.replicas()) == 1, "the dead replica replaced")
    rig.api("admin", "DELETE", "/services/ran", status=204)
    rig.until(lambda: not rig.replicas(), "no replica after the delete")


def test_a_job_in_the_way_of_a_rise_gets_sigterm_its_grace_before_the_replica_must_start(rig: Rig) -> None:
    """The rise is at T = now + 100 with a 20 s ramp-up: the replica must start at T - 20. The job on the site's
    node has a grace of 5 s: it is signalled at T - 25, not before."""
    term = rig.tmp / "term.txt"
    job = rig.world.submit("alice", argv=["sh", "-c", f"trap 'echo TERM > {term}; exit 0' TERM; sleep 60 & wait"],
                           num_gpus=4, grace=5, walltime="1h")
    rig.until(lambda: rig.api("alice", "GET", f"/jobs/{job['id']}")["state"] == "running", "the job runs")
    t = rig.clock.now + 100
    rig.api("admin", "POST", "/services", service(rig.tmp / "m.txt", {"curve": {"start": t, "points": [[0, 1]]}},
                                                  lead_s=20), status=201)
    rig.clock.now = t - 26
    for _ in range(5):
        rig.loop.tick()
    assert rig.api("alice", "GET", f"/jobs/{job['id']}")["state"] == "running" and not term.exists()
    rig.clock.now = t - 25
    rig.until(term.exists, "SIGTERM at T - 25")
    rig.until(lambda: rig.api("alice", "GET", f"/jobs/{job['id']}")["state"] == "succeeded", "the job exits")
    rig.clock.now = t - 20
    rig.until(lambda: len(rig.replicas()) == 1, "the replica starts at T - 20")
    events = rig.api("alice", "GET", f"/jobs/{job['id']}")["events"]
    assert [e["at"] for e in events if e["to_state"] == "preempting"] == [t - 25]
    assert any("service ran needs its GPUs" in e["reason"] for e in events)
    assert [j["started_at"] for j in rig.replicas()] == [t - 20]


def test_who_may_manage_services_and_bad_input(rig: Rig) -> None:
    body = service(rig.tmp / "m.txt", {"replicas": 1})
    rig.api("alice", "POST", "/services", {**body, "org": None}, status=403)
    rig.api("beta-admin", "POST", "/services", body, status=403)
    bad = rig.api("admin", "POST", "/services", {**body, "sites": ["nowhere"]}, status=422)
    assert "nowhere" in str(bad)
    bad = rig.api("admin", "POST", "/services", {**body, "demand": {"replicas": 1, "weekly": {"daily": [1] * 24}}},
                  status=422)
    assert "exactly one" in str(bad)
    rig.api("alpha-admin", "POST", "/services", {**body, "org": None}, status=201)
    rig.api("alpha-admin", "POST", "/services", {**body, "org": None}, status=409)
    rig.api("bob", "GET", "/services/ran", status=404)
    rig.api("alice", "POST", "/services/ran/scale", {"replicas": 3}, status=403)
    rig.api("alpha-admin", "POST", "/services/ran/scale", {"replicas": -1}, status=422)
    assert [s["name"] for s in rig.api("alice", "GET", "/services")] == ["ran"]
    assert rig.api("bob", "GET", "/services") == []


def test_gpus_a_ran_site_lends_are_priced_at_the_preemptible_class(rig: Rig) -> None:
    """2 points per GPU-hour, preemptible ×0.5. A RAN service's site is node 0 (it wants no replica now): the
    preemptible job that lands there holds 4 GPUs × 1 h × 2 × 0.5 = 4 points; the non-preemptible one on node 1
    the standard 8."""
    tariff = {"name": "t", "valid_from": "2020-01-01", "points_per_gpu_hour": {"H100-80GB": "2"},
              "service_classes": {"standard": "1", "preemptible": "0.5"}}
    rig.api("admin", "POST", "/tariffs", {"tariffs": [tariff]}, status=201)
    rig.api("admin", "POST", "/budgets/alpha/default/topup", {"amount": "100"})
    rig.api("admin", "POST", "/services", service(rig.tmp / "m.txt", {"replicas": 0}), status=201)
    lent = rig.world.submit("alice", argv=["sleep", "60"], num_gpus=4, walltime="1h")
    rig.until(lambda: rig.api("alice", "GET", f"/jobs/{lent['id']}")["state"] == "running", "the lent job runs")
    own = rig.world.submit("alice", argv=["sleep", "60"], num_gpus=4, walltime="1h", preemptible=False)
    rig.until(lambda: rig.api("alice", "GET", f"/jobs/{own['id']}")["state"] == "running", "the other job runs")
    first, second = (rig.api("alice", "GET", f"/jobs/{j['id']}") for j in (lent, own))
    assert [p["node"] for p in first["placement"]] == ["b0-r0-n0"]
    assert (Decimal(first["estimated_cost"]), Decimal(second["estimated_cost"])) == (4, 8)
