"""The control loop driven in-process, tick by tick, with a hand-moved clock and the real local executor,
against SQLite and PostgreSQL (see conftest.py): run, succeed, fail, time out, cancel, preempt, launch
failures, idle ticks, and recovery after a restart."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock, World, close_world, make_world, stop_loop

from gpucloud.model.job import JobState
from gpucloud.service.control.recovery import HALF_LAUNCHED, NOT_LAUNCHED, REATTACHED
from gpucloud.service.executors.base import LaunchSpec, NodeGpus
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
        return ControlLoop(ctx.sessions, lambda: ctx.cluster, LocalExecutor(self.world.settings.data_dir),
                           engine=ctx.engine, clock=self.clock, config=LoopConfig(policy=policy))

    def crash(self) -> None:
        """Drop the loop as ``kill -9`` would: its processes keep running, its database connections die (so its
        leadership lock goes with them), and a new loop takes over."""
        self.loop.leader.release()
        self.loop = self.new_loop()

    def job_dir(self, jid: int) -> Path:
        return self.world.settings.data_dir / "jobs" / str(jid)

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


@contextmanager
def sqlite_rig(tmp_path: Path, cluster: str) -> Iterator[Rig]:
    """A rig on SQLite with its own cluster (the ``rig`` fixture's is 1x4)."""
    clock = FakeClock()
    world = make_world(f"sqlite:///{tmp_path / 'gpucloud.db'}", tmp_path, clock, cluster_file=cluster)
    r = Rig(world, clock, None, tmp_path)  # type: ignore[arg-type]
    r.loop = r.new_loop()
    try:
        yield r
    finally:
        r.loop.executor.close()
        world.client.close()
        world.app.state.gpucloud.engine.dispose()


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    clock = FakeClock()
    world = make_world(db_url, tmp_path, clock, cluster_file="1x4:H100")
    r = Rig(world, clock, None, tmp_path)  # type: ignore[arg-type]
    r.loop = r.new_loop()
    yield r
    stop_loop(r.loop)
    close_world(world)


def test_runs_to_success_and_failure_with_exit_code(rig: Rig) -> None:
    out = rig.tmp / "out.txt"
    ok = rig.submit(["sh", "-c", f'echo "$GPUCLOUD_JOB_ID $CUDA_VISIBLE_DEVICES" > {out}'], num_gpus=2)
    bad = rig.submit(["sh", "-c", "exit 3"])
    assert rig.loop.tick()
    assert rig.job(ok)["state"] in ("admitted", "running", "succeeded")  # the launch does not block the tick
    job = rig.state(ok, "succeeded")
    assert job["exit_code"] == 0 and job["run_count"] == 1
    assert out.read_text().split() == [str(ok), "0,1"]
    job = rig.state(bad, "failed")
    assert job["exit_code"] == 3 and "exit code 3" in job["reason"]
    assert [e["to_state"] for e in job["events"]] == ["pending", "admitted", "running", "failed"]


@sqlite_only
def test_walltime_sends_sigterm_then_sigkill_after_grace(rig: Rig) -> None:
    ready = rig.tmp / "trapped"
    jid = rig.submit(["sh", "-c", f"trap '' TERM; touch {ready}; sleep 30"], walltime=60, grace=5)
    rig.until(jid, lambda j: j["state"] == "running" and ready.exists(), "running with SIGTERM ignored")
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


def _admit_by_hand(rig: Rig, jid: int, nodes: int = 1, gpu: int = 0) -> None:
    ctx = rig.world.app.state.gpucloud
    with ctx.sessions.begin() as s:
        row = s.get(JobRow, jid)
        assert row is not None
        apply_transition(s, row, JobState.ADMITTED, "admitted", rig.clock(), gpu_type="H100-80GB",
                         placement=[PlacedNode(ctx.cluster.nodes[n].name, (gpu,)) for n in range(nodes)])


def _launch_by_hand(rig: Rig, jid: int, argv: tuple[str, ...], ranks: int, epoch: int) -> LocalExecutor:
    """Start ranks ``0..ranks-1`` of attempt 1 of an admitted job on the host, as a leader about to die would."""
    ctx = rig.world.app.state.gpucloud
    ex = LocalExecutor(rig.world.settings.data_dir)
    ex.bind(lambda: None, epoch)
    nodes = tuple(NodeGpus(ctx.cluster.nodes[n].name, n, (0,)) for n in range(ranks))
    ex.launch_now(LaunchSpec(str(jid), 1, argv, str(rig.tmp), {"PATH": "/usr/bin:/bin"}, nodes))
    return ex


def test_restart_reattaches_running_jobs_and_settles_admitted_ones(rig: Rig) -> None:
    running = rig.submit(["sleep", "30"])
    rig.state(running, "running")
    # just before the "crash": a job admitted and never launched, one launched whose start was not committed
    never = rig.submit(["true"], priority="low")
    launched = rig.submit(["sleep", "30"], priority="low")
    _admit_by_hand(rig, never, gpu=1)
    _admit_by_hand(rig, launched, gpu=2)
    assert rig.loop.leader.epoch is not None
    old = _launch_by_hand(rig, launched, ("sleep", "30"), 1, rig.loop.leader.epoch)
    rig.crash()
    rig.loop.tick()
    assert rig.job(running)["state"] == "running" and running in rig.loop.jobs
    assert NOT_LAUNCHED in [e["reason"] for e in rig.job(never)["events"]]
    job = rig.job(launched)
    assert job["state"] == "running" and job["reason"] == REATTACHED and launched in rig.loop.jobs
    rig.state(never, "succeeded")
    rig.loop.executor.signal(rig.loop.jobs[running].handle, signal.SIGKILL)
    job = rig.state(running, "failed")
    assert job["run_count"] == 1 and "signal 9" in job["reason"]
    old.close()


def test_a_launch_cut_short_by_a_crash_is_stopped_and_failed_never_repeated(tmp_path: Path) -> None:
    with sqlite_rig(tmp_path, "2x4:H100") as rig:
        rig.loop.tick()
        jid = rig.submit(["sleep", "30"], nodes=2, num_gpus=2, priority="low")
        rig.loop.executor.close()
        _admit_by_hand(rig, jid, nodes=2)
        assert rig.loop.leader.epoch is not None
        old = _launch_by_hand(rig, jid, ("sleep", "30"), 1, rig.loop.leader.epoch)  # only rank 0 started
        rank0 = rig.job_dir(jid) / "rank.1.0"
        keeper = int(rank0.read_text().split('"keeper": ')[1].split(",")[0])
        rig.crash()
        rig.loop.tick()
        job = rig.job(jid)
        assert job["state"] == "failed" and job["reason"] == HALF_LAUNCHED
        deadline = time.monotonic() + DEADLINE_S
        while (rig.job_dir(jid) / "exit.1.0").exists() is False:  # its rank was stopped
            assert time.monotonic() < deadline, "rank 0 of the half-launched job was not stopped"
            time.sleep(0.02)
        assert "137" in (rig.job_dir(jid) / "exit.1.0").read_text()
        assert not Path(f"/proc/{keeper}").exists() or "Z" in Path(f"/proc/{keeper}/stat").read_text().split()[2]
        old.close()


@sqlite_only
def test_restart_fails_jobs_whose_processes_died_while_down(rig: Rig) -> None:
    jid = rig.submit(["sleep", "30"])
    rig.state(jid, "running")
    handle = rig.loop.jobs[jid].handle
    # the processes die while no loop watches them, and their exit file is lost with them
    rig.loop.executor.close()
    rig.loop.executor.signal(handle, signal.SIGKILL)
    time.sleep(0.2)
    for f in rig.job_dir(jid).glob("exit.*"):
        f.unlink()
    rig.crash()
    rig.loop.tick()
    job = rig.state(jid, "failed")
    assert job["reason"] == "process vanished"


@sqlite_only
def test_restart_uses_the_exit_file_of_a_job_that_ended_while_down(rig: Rig) -> None:
    jid = rig.submit(["sh", "-c", "sleep 0.2; exit 7"])
    rig.state(jid, "running")
    rig.crash()
    time.sleep(0.5)
    job = rig.state(jid, "failed")
    assert job["exit_code"] == 7


def test_one_leader_per_database_and_a_former_leader_is_fenced(db_url: str) -> None:
    from gpucloud.service.control.leader import Fenced, Leadership
    from gpucloud.service.control.txn import Transactions, VersionTracker
    from gpucloud.service.store.engine import make_engine, make_sessionmaker
    from gpucloud.service.store.migrate import upgrade_engine

    engines = [make_engine(db_url), make_engine(db_url)]
    upgrade_engine(engines[0])
    try:
        first, second = (Leadership(e) for e in engines)
        assert first.acquire()
        assert second.acquire() == (not first.shared)  # SQLite: one server, one loop; PostgreSQL: one leader
        stale = first.epoch
        first.release()
        assert second.acquire()
        assert second.epoch is not None and stale is not None and second.epoch > stale
        # the former leader, stalled with its old epoch, cannot write any more; the new one can
        old = Transactions(make_sessionmaker(engines[0]), VersionTracker(), epoch=lambda: stale)
        with pytest.raises(Fenced), old.own():
            pass
        new = Transactions(make_sessionmaker(engines[1]), VersionTracker(), epoch=lambda: second.epoch)
        with new.own():
            pass
        second.release()
    finally:
        for e in engines:
            e.dispose()


def test_a_failing_rank_stops_the_whole_gang_and_fails_it_with_its_status(tmp_path: Path) -> None:
    with sqlite_rig(tmp_path, "2x4:H100") as rig:
        script = ('if [ "$RANK" = 1 ]; then sleep 0.3; exit 3; fi; '
                  'trap "echo stopped; exit 1" TERM; while :; do sleep 0.05; done')
        jid = rig.submit(["sh", "-c", script], nodes=2, num_gpus=8, walltime=3600, grace=30)
        job = rig.state(jid, "failed")
        assert job["exit_code"] == 3 and job["reason"] == "rank 1 (b0-r0-n1): exit code 3"
        assert rig.clock() < job["started_at"] + 3600  # stopped at once, not at its walltime
        assert (rig.job_dir(jid) / "stdout.log").read_text() == "stopped\n"  # rank 0 got SIGTERM
        assert '"code": 1' in (rig.job_dir(jid) / "exit.1.0").read_text()
        logs = rig.world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs?rank=0").json()
        assert (logs["text"], logs["done"]) == ("stopped\n", True)  # its log is in the database, complete


def test_every_end_the_executor_reports_is_committed_whatever_the_tick_it_comes_in(tmp_path: Path) -> None:
    """The executor reports each rank's end once; the loop collects several times a tick (after launching, and
    for the logs of jobs that just ended): none of those reports may be dropped. 200 short real jobs through the
    loop's own thread: every one must end (a dropped report leaves its job running for ever)."""
    world = make_world(f"sqlite:///{tmp_path / 'gpucloud.db'}", tmp_path, FakeClock(), cluster_file="4x8:H100")
    ctx = world.app.state.gpucloud
    loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, LocalExecutor(world.settings.data_dir), engine=ctx.engine)
    loop.start()
    try:
        ids = [int(world.submit("alice", argv=["true"])["id"]) for _ in range(200)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (loop.jobs or loop.launching or loop.stats.ended < len(ids)):
            time.sleep(0.1)
        states = {world.call("admin", "GET", f"/api/v1/jobs/{j}").json()["state"] for j in ids}
        assert states == {"succeeded"}, (loop.stats, len(loop.jobs))
    finally:
        loop.stop()
        world.client.close()
        ctx.engine.dispose()
