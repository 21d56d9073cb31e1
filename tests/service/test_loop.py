"""The control loop driven in-process, tick by tick, with a hand-moved clock and the real local executor,
against SQLite and PostgreSQL (see conftest.py): run, succeed, fail, time out, cancel, preempt, launch
failures, idle ticks, and recovery after a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock, World, make_world

from gpucloud.model.job import JobState
from gpucloud.service.control.journal import LaunchJournal
from gpucloud.service.control.recovery import HALF_LAUNCHED, NOT_LAUNCHED
from gpucloud.service.control.schedule import log_dir_of
from gpucloud.service.executors.local import LocalExecutor
from gpucloud.service.loop import ControlLoop, LoopConfig
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import PlacedNode
from gpucloud.service.transitions import apply_transition

DEADLINE_S = 10.0
#: PostgreSQL runs only for the tests where the database matters most (each costs about a second of setup).
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@dataclass
class Rig:
    world: World
    clock: FakeClock
    loop: ControlLoop
    tmp: Path

    def new_loop(self, policy: str = "backfill") -> ControlLoop:
        ctx = self.world.app.state.gpucloud
        return ControlLoop(ctx.sessions, lambda: ctx.cluster, LocalExecutor(), self.world.settings.data_dir,
                           engine=ctx.engine, clock=self.clock, config=LoopConfig(policy=policy))

    def submit(self, argv: list[str], user: str = "alice", **body: Any) -> int:
        return int(self.world.submit(user, argv=argv, **body)["id"])

    def job(self, jid: int) -> dict[str, Any]:
        r = self.world.call("admin", "GET", f"/api/v1/jobs/{jid}")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def until(self, jid: int, pred: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """Tick until ``pred(job)`` holds (real-time deadline; the fake clock stays where it is)."""
        end = time.monotonic() + DEADLINE_S
        while True:
            self.loop.tick()
            job = self.job(jid)
            if pred(job):
                return job
            if time.monotonic() > end:
                raise AssertionError(f"job {jid} never became {what}: {job['state']} ({job['reason']})")
            time.sleep(0.02)

    def state(self, jid: int, *states: str) -> dict[str, Any]:
        return self.until(jid, lambda j: j["state"] in states, "/".join(states))


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    clock = FakeClock()
    world = make_world(db_url, tmp_path, clock, cluster_file="1x4:H100")
    r = Rig(world, clock, None, tmp_path)  # type: ignore[arg-type]
    r.loop = r.new_loop()
    yield r
    for job in list(r.loop.jobs.values()):
        r.loop.executor.kill(job.handle)
    world.client.close()
    world.app.state.gpucloud.engine.dispose()


def test_runs_to_success_and_failure_with_exit_code(rig: Rig) -> None:
    out = rig.tmp / "out.txt"
    ok = rig.submit(["sh", "-c", f'echo "$GPUCLOUD_JOB_ID $CUDA_VISIBLE_DEVICES" > {out}'], num_gpus=2)
    bad = rig.submit(["sh", "-c", "exit 3"])
    assert rig.loop.tick()
    assert rig.job(ok)["state"] in ("running", "succeeded")
    job = rig.state(ok, "succeeded")
    assert job["exit_code"] == 0 and job["run_count"] == 1
    assert out.read_text().split() == [str(ok), "0,1"]
    job = rig.state(bad, "failed")
    assert job["exit_code"] == 3 and "exit code 3" in job["reason"]
    assert [e["to_state"] for e in job["events"]] == ["pending", "admitted", "running", "failed"]


@sqlite_only
def test_walltime_sends_sigterm_then_sigkill_after_grace(rig: Rig) -> None:
    jid = rig.submit(["sh", "-c", "trap '' TERM; sleep 30"], walltime=60, grace=5)
    rig.state(jid, "running")
    rig.clock.advance(61)
    rig.loop.tick()  # SIGTERM, ignored
    time.sleep(0.2)
    rig.loop.tick()
    assert rig.job(jid)["state"] == "running"
    rig.clock.advance(6)  # grace over: SIGKILL
    job = rig.state(jid, "timed_out")
    assert "walltime" in job["reason"] and "signal 9" in job["reason"]


@sqlite_only
def test_cancel_of_a_running_job(rig: Rig) -> None:
    jid = rig.submit(["sleep", "30"], grace=5)
    rig.state(jid, "running")
    r = rig.world.call("alice", "POST", f"/api/v1/jobs/{jid}/cancel")
    assert r.status_code == 200 and r.json()["cancel_requested"]
    job = rig.state(jid, "cancelled")
    assert "signal 15" in job["reason"]


def test_preemption_by_a_higher_priority_job_requeues_the_victim(rig: Rig) -> None:
    low = rig.submit(["sleep", "30"], num_gpus=4, priority="low", grace=1)
    rig.state(low, "running")
    high = rig.submit(["sleep", "0.1"], num_gpus=4, priority="high")
    rig.loop.tick()
    assert rig.job(low)["state"] in ("preempting", "pending")
    assert rig.job(high)["state"] == "pending"
    job = rig.until(low, lambda j: j["state"] == "pending" or j["run_count"] == 2, "requeued")
    assert job["preemptions"] == 1
    assert "preempted" in [e["reason"] for e in job["events"] if e["to_state"] == "pending"][-1]
    rig.state(high, "succeeded")
    job = rig.until(low, lambda j: j["run_count"] == 2, "restarted")
    assert job["state"] == "running"


@sqlite_only
def test_launch_failure_fails_the_job_and_the_loop_continues(rig: Rig) -> None:
    bad = rig.submit(["no-such-program-gpucloud"])
    good = rig.submit(["true"])
    job = rig.state(bad, "failed")
    assert "cannot start" in job["reason"] and "no-such-program-gpucloud" in job["reason"]
    assert "not found" in job["reason"]
    rig.state(good, "succeeded")
    assert rig.loop.stats.launch_failures == 1 and rig.loop.stats.errors == 0


@sqlite_only
def test_an_idle_tick_does_no_scheduling_work(rig: Rig) -> None:
    jid = rig.submit(["true"])
    rig.state(jid, "succeeded")
    rig.loop.tick()
    builds = rig.loop.stats.scheduler_builds
    for _ in range(5):
        assert not rig.loop.tick()
    assert rig.loop.stats.scheduler_builds == builds
    rig.submit(["true"])
    assert rig.loop.tick()
    assert rig.loop.stats.scheduler_builds == builds + 1


@sqlite_only
def test_wait_reasons_and_queue_order_are_stored(rig: Rig) -> None:
    big = rig.submit(["sleep", "30"], num_gpus=4)
    rig.state(big, "running")
    waiting = rig.submit(["true"], num_gpus=2)
    rig.loop.tick()
    job = rig.job(waiting)
    assert job["state"] == "pending" and job["reason"] in ("no fitting nodes", "would delay the head job's reservation")
    r = rig.world.call("alice", "GET", "/api/v1/queue")
    assert r.status_code == 200 and [e["job"]["id"] for e in r.json()["items"]] == [waiting]


# -- restart recovery -----------------------------------------------------------------------------------------


def _admit_by_hand(rig: Rig, jid: int) -> None:
    ctx = rig.world.app.state.gpucloud
    with ctx.sessions.begin() as s:
        row = s.get(JobRow, jid)
        assert row is not None
        apply_transition(s, row, JobState.ADMITTED, "admitted", rig.clock(),
                         placement=[PlacedNode(ctx.cluster.nodes[0].name, (0,))], gpu_type="H100-80GB")


def test_restart_reattaches_running_jobs_and_settles_admitted_ones(rig: Rig) -> None:
    running = rig.submit(["sleep", "30"])
    rig.state(running, "running")
    # a job admitted just before the "crash", never launched; and one whose launch began but never returned
    never = rig.submit(["true"], priority="low")
    half = rig.submit(["true"], priority="low")
    _admit_by_hand(rig, never)
    _admit_by_hand(rig, half)
    LaunchJournal(log_dir_of(rig.world.settings.data_dir, half), 1).write_intent()
    old = rig.loop
    rig.loop = rig.new_loop()  # the old loop is simply dropped, as after kill -9
    rig.loop.tick()
    assert rig.job(running)["state"] == "running" and running in rig.loop.jobs
    assert NOT_LAUNCHED in [e["reason"] for e in rig.job(never)["events"]]
    job = rig.job(half)
    assert job["state"] == "failed" and job["reason"] == HALF_LAUNCHED
    rig.state(never, "succeeded")
    old.executor.kill(old.jobs[running].handle)
    job = rig.state(running, "failed")
    assert job["run_count"] == 1 and "signal 9" in job["reason"]


@sqlite_only
def test_restart_fails_jobs_whose_processes_died_while_down(rig: Rig) -> None:
    jid = rig.submit(["sleep", "30"])
    rig.state(jid, "running")
    handle = rig.loop.jobs[jid].handle
    # the processes die while no loop watches them, and their exit file is lost with them
    rig.loop.executor.kill(handle)
    time.sleep(0.2)
    rig.loop.executor.poll(handle)  # reap the child
    for f in Path(str(handle.data["log_dir"])).glob("exit.*"):
        f.unlink()
    rig.loop = rig.new_loop()
    rig.loop.tick()
    job = rig.job(jid)
    assert job["state"] == "failed" and job["reason"] == "process died while the server was down"


@sqlite_only
def test_restart_uses_the_exit_file_of_a_job_that_ended_while_down(rig: Rig) -> None:
    jid = rig.submit(["sh", "-c", "sleep 0.2; exit 7"])
    rig.state(jid, "running")
    rig.loop = rig.new_loop()
    time.sleep(0.5)
    job = rig.state(jid, "failed")
    assert job["exit_code"] == 7


def test_one_leader_per_database(db_url: str) -> None:
    from gpucloud.service.control.leader import Leadership
    from gpucloud.service.store.engine import make_engine

    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        first, second = (Leadership(e) for e in engines)
        assert first.acquire()
        assert second.acquire() == (not first.shared)  # SQLite: one server, one loop; PostgreSQL: one leader
        first.release()
        assert second.acquire()
        second.release()
    finally:
        for e in engines:
            e.dispose()
