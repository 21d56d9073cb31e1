"""Start-time forecasts and shape advice through the API: ``GET /jobs/{id}`` (``forecast``), ``GET /queue?start=true``
and ``GET /jobs/{id}/advice``, with what each user may see; run times learned from the jobs that ended."""

from __future__ import annotations

from typing import Any

from api_world import World

from gpucloud.model.job import JobState
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import PlacedNode
from gpucloud.service.transitions import apply_transition

NODES = [f"b0-r0-n{i}" for i in range(4)]  # the 4 × 8 H100 world


def _move(world: World, job_id: int, nodes: list[str], *states: JobState) -> None:
    with world.app.state.gpucloud.sessions.begin() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        for st in states:
            apply_transition(s, job, st, f"test: {st}", world.clock(),
                             exit_code=0 if st == JobState.SUCCEEDED else None,
                             placement=[PlacedNode(n, tuple(range(8))) for n in nodes], gpu_type="H100-80GB")


def _setup(world: World) -> tuple[int, int]:
    """alice's 32-GPU job holds the whole cluster from now, asking 1 h; bob's 8-GPU job waits. Forecasts are
    computed in the asking thread (deterministic)."""
    world.app.state.gpucloud.forecasts.background = False
    big = world.submit("alice", num_gpus=32, walltime="1h")["id"]
    _move(world, big, NODES, JobState.ADMITTED, JobState.RUNNING)
    small = world.submit("bob", num_gpus=8, walltime="30m")["id"]
    return big, small


def _forecast(world: World, user: str, job_id: int) -> Any:
    r = world.call(user, "GET", f"/api/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()["forecast"]


def test_a_waiting_job_is_forecast_from_the_walltime_without_history(world: World) -> None:
    big, small = _setup(world)
    f = _forecast(world, "bob", small)
    now = world.clock()
    assert (f["start"], f["earliest"], f["latest"]) == (now + 3600, now + 3600, now + 3600)
    assert f["waits_for"] == "running jobs to free enough GPUs" and f["made_at"] == now
    assert _forecast(world, "alice", big) is None  # running: no forecast
    q = world.call("bob", "GET", "/api/v1/queue?start=true").json()
    assert [(e["job"]["id"], e["forecast"]["start"]) for e in q["items"]] == [(small, now + 3600)]
    assert world.call("bob", "GET", "/api/v1/queue").json()["items"][0]["forecast"] is None


def test_run_times_are_learned_from_the_jobs_that_ended(world: World) -> None:
    """alice's five earlier jobs asked 1 h and ran 6 min: her running job is expected to end 6 min after its
    start, and bob's job to start then; the range stays within the history (all 0.1 of the walltime)."""
    world.app.state.gpucloud.forecasts.background = False
    for _ in range(5):
        jid = world.submit("alice", num_gpus=8, walltime="1h")["id"]
        _move(world, jid, NODES[:1], JobState.ADMITTED, JobState.RUNNING)
        world.clock.advance(360)
        _move(world, jid, NODES[:1], JobState.SUCCEEDED)
    _, small = _setup(world)
    f = _forecast(world, "bob", small)
    now = world.clock()
    assert (f["earliest"], f["start"], f["latest"]) == (now + 360, now + 360, now + 360)
    # no history of bob's, of his org, or of his shape: all jobs' ratios (0.1 × 30 min)
    assert (f["run_time_s"], f["run_time_basis"]) == (180, "0.10 × walltime, from 5 runs of all jobs")
    alices = world.submit("alice", num_gpus=8, walltime="1h")["id"]
    assert _forecast(world, "alice", alices) is None  # submitted since the forecast, which is not 5 s old yet
    world.clock.advance(5)
    f = _forecast(world, "alice", alices)  # now it is made again
    assert (f["run_time_s"], f["run_time_basis"]) == (360, "0.10 × walltime, from 5 runs of this user and shape")


def test_others_cannot_see_a_forecast_or_advice(world: World) -> None:
    _, small = _setup(world)
    assert world.call("alice", "GET", f"/api/v1/jobs/{small}").status_code == 404
    assert world.call("alice", "GET", f"/api/v1/jobs/{small}/advice").status_code == 404
    assert world.call("alice", "GET", "/api/v1/queue?start=true").json()["items"] == []
    assert world.call("beta-admin", "GET", f"/api/v1/jobs/{small}/advice").status_code == 200
    assert world.call("admin", "GET", "/api/v1/queue?start=true").json()["items"][0]["forecast"] is not None


def test_advice_lists_alternatives_and_refuses_a_job_that_is_not_pending(world: World) -> None:
    big, small = _setup(world)
    r = world.call("bob", "GET", f"/api/v1/jobs/{small}/advice")
    assert r.status_code == 200, r.text
    options = r.json()["options"]
    mine = [o for o in options if o["current"]]
    assert len(mine) == 1 and mine[0]["start"] == world.clock() + 3600 and mine[0]["label"] == "as asked"
    # 8 × 1 needs 8 nodes (the cluster has 4): left out; 1 × 8 is what it gets already
    assert {(o["num_gpus"], o["nodes"]) for o in options} == {(8, None), (8, 2), (8, 4)}
    r = world.call("alice", "GET", f"/api/v1/jobs/{big}/advice")
    assert r.status_code == 422 and "running, not pending" in r.text
    assert world.call("bob", "GET", "/api/v1/jobs/0/advice").status_code == 422  # ids are positive
    assert world.call("bob", "GET", "/api/v1/queue?start=maybe").status_code == 422


def test_the_start_of_a_job_not_submitted_yet_is_previewed(world: World) -> None:
    _setup(world)
    r = world.call("bob", "POST", "/api/v1/quotes/start", {"num_gpus": 8, "walltime": "10m"})
    assert r.status_code == 200, r.text
    # behind bob's waiting job, which takes the first 8 GPUs freed at +1 h; the other 24 are free then too
    assert r.json()["start"] == world.clock() + 3600 and r.json()["run_time_s"] == 600
    r = world.call("bob", "POST", "/api/v1/quotes/start", {"num_gpus": 32, "walltime": "10m"})
    assert r.json()["start"] == world.clock() + 3600 + 1800  # all 32: after bob's 30-min job too
    bad = world.call("bob", "POST", "/api/v1/quotes/start", {"num_gpus": 8, "gpu_type": "Z9"})
    assert bad.status_code == 422 and "gpu_type" in bad.text
    assert world.call("bob", "POST", "/api/v1/quotes/start", {"num_gpus": 0}).status_code == 422
