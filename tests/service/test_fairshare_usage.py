"""Fair share's decayed usage survives a restart of the control loop (saved by housekeeping, loaded at
recovery). Cluster 4 × 8 H100; the loop is driven tick by tick with a hand-moved clock."""

from __future__ import annotations

from pathlib import Path

from api_world import FakeClock, World, make_world
from money_books import Manual

from gpucloud.service.fairshare_usage import load_usage
from gpucloud.service.loop import ControlLoop, LoopConfig


def new_loop(world: World, clock: FakeClock, executor: Manual) -> ControlLoop:
    ctx = world.app.state.gpucloud
    return ControlLoop(ctx.sessions, lambda: ctx.cluster, executor, engine=ctx.engine, clock=clock,
                       config=LoopConfig(policy="fairshare"))


def test_usage_outlives_a_restart(db_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    world = make_world(db_url, tmp_path, clock)
    executor = Manual()
    loop = new_loop(world, clock, executor)
    # alpha fills the cluster for an hour: 32 GPUs × 3600 s = 115,200 GPU-seconds of usage (decay over an hour
    # with the 7-day half-life takes off less than 0.5 %).
    first = int(world.submit("alice", num_gpus=32, walltime="2h")["id"])
    loop.tick()
    clock.advance(3600)
    executor.finish(first)
    loop.tick()  # the job ends; the cycle brings the usage up to now
    clock.advance(60)
    loop.tick()  # housekeeping (every 60 s of the clock) saves it
    with world.app.state.gpucloud.sessions() as session:
        saved = load_usage(session)
    assert 114_000 < saved.usage["alpha"]["H100-80GB"] < 115_200
    assert saved.usage.get("beta", {}).get("H100-80GB", 0.0) == 0.0

    # A new loop (a restarted server). alpha submits first, beta second, each wanting the whole cluster:
    # fair share starts beta's job first because alpha used the cluster for an hour. Had the usage been lost,
    # both orgs would be equal and alpha's earlier job would go first.
    loop.stop()
    restarted = new_loop(world, clock, executor)
    a = int(world.submit("alice", num_gpus=32, walltime="1h")["id"])
    b = int(world.submit("bob", num_gpus=32, walltime="1h")["id"])
    restarted.tick()
    states = {jid: world.call("admin", "GET", f"/api/v1/jobs/{jid}").json()["state"] for jid in (a, b)}
    assert states == {a: "pending", b: "running"}
    restarted.leader.release()
    world.client.close()
    world.app.state.gpucloud.engine.dispose()


def test_a_preempted_run_counts_until_it_stopped(db_url: str, tmp_path: Path) -> None:
    """alpha's low-priority job holds all 32 GPUs from T; at T + 3600 beta's high-priority job preempts it; it
    stops 30 s later (its grace), is queued again, and beta's job starts. alpha used 32 GPUs for 3,630 s: the
    last 30 s are reported from the requeued row (its run's GPU type is kept for that). Decayed with the
    7-day half-life: 32 · τ · (1 − e^(−3630/τ)) ≈ 115,952 GPU-seconds."""
    import math

    clock = FakeClock()
    world = make_world(db_url, tmp_path, clock)
    executor = Manual()
    loop = new_loop(world, clock, executor)
    low = int(world.submit("alice", num_gpus=32, walltime="4h", priority="low", grace="30s")["id"])
    loop.tick()
    clock.advance(3600)
    world.submit("bob", num_gpus=32, walltime="1h", priority="high")
    loop.tick()  # preempts alpha's job (the manual executor ends it at the SIGTERM)
    assert world.call("admin", "GET", f"/api/v1/jobs/{low}").json()["state"] == "preempting"
    clock.advance(30)
    loop.tick()  # it stopped: queued again; the cycle counts its last 30 s
    job = world.call("admin", "GET", f"/api/v1/jobs/{low}").json()
    assert (job["state"], job["assigned_gpu_type"]) == ("pending", "H100-80GB")
    loop.stop()  # saves the usage
    tau = 7 * 24 * 3600 / math.log(2)
    with world.app.state.gpucloud.sessions() as session:
        got = load_usage(session).usage["alpha"]["H100-80GB"]
    assert math.isclose(got, 32 * tau * (1 - math.exp(-3630 / tau)), rel_tol=1e-9)
    world.client.close()
    world.app.state.gpucloud.engine.dispose()
