"""One driver: the same small trace through the simulator and through the real control loop (the API, the database,
the no-op executor, a virtual clock) gives the same start times, placements and preemptions, under every policy.

The trace (seeded) has two orgs with guaranteed quotas and borrowing, three priority classes, preemptible and
non-preemptible jobs, gangs of two nodes, jobs that outrun their walltime, grace periods, and an approved
reservation that some jobs name. The live side advances its clock from event to event as the simulator does: the
next arrival, the next natural end of a running job, the next SIGTERM or SIGKILL due, or the core's ``wake_at``.
Its no-op jobs run the trace's duration and spend their whole grace period before exiting when stopped (the
simulator's model, with no checkpoints: a preempted job starts its work over).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock, World, make_world

from gpucloud.core.bookings import Booking
from gpucloud.core.state import SchedulerConfig
from gpucloud.model.job import JobSpec
from gpucloud.model.priority import priority_of
from gpucloud.service.control.loop import ControlLoop, LoopConfig
from gpucloud.service.executors.noop import SECONDS_ENV, NoopExecutor
from gpucloud.service.store.placement import placed_nodes
from gpucloud.service.store.tenants import load_orgs
from gpucloud.sim.engine import SimConfig, simulate
from gpucloud.sim.traces.base import TraceJob

T0 = 1_700_000_000.0
CLUSTER = "4x8:H100"
JOBS = 120
WINDOW = (T0 + 900, T0 + 2700)  # the reservation's window
USER = {"alpha": "alice", "beta": "bob"}
#: no checkpoints: a preempted no-op job starts over, as the simulator's run does with this interval
NEVER = 1e18


@dataclass(frozen=True)
class Row:
    t: float
    org: str
    gpus: int
    nodes: int | None
    walltime: float
    duration: float
    priority: str
    preemptible: bool
    grace: float
    reserved: bool


def trace(seed: int = 11) -> list[Row]:
    rng = random.Random(seed)
    rows, t = [], T0
    for _ in range(JOBS):
        t += rng.choice((0, 5, 10, 20, 40, 60))
        org = rng.choice(("alpha", "alpha", "beta"))
        reserved = org == "alpha" and WINDOW[0] - 600 < t < WINDOW[1] - 900 and rng.random() < 0.3
        gpus, nodes = rng.choice(((1, None), (2, None), (4, None), (8, None), (16, 2)))
        if reserved:
            gpus, nodes = rng.choice(((2, None), (4, None), (8, None)))
        duration = float(rng.randrange(60, 1200, 10))
        walltime = duration * rng.choice((1.0, 1.5, 2.0)) if rng.random() > 0.1 else duration / 2
        if reserved:
            walltime = min(walltime, 600.0)
        rows.append(Row(t, org, gpus, nodes, walltime, duration, rng.choice(("low", "normal", "normal", "high")),
                        rng.random() < 0.8, float(rng.choice((0, 10, 30))), reserved))
    return rows


@dataclass
class Live:
    world: World
    clock: FakeClock
    loop: ControlLoop
    booking: Booking
    durations: dict[int, float]


def live_world(tmp_path: Path, policy: str) -> Live:
    clock = FakeClock(now=T0)
    world = make_world(f"sqlite:///{tmp_path / 'gpucloud.db'}", tmp_path, clock, cluster_file=CLUSTER)
    for org, guaranteed in (("alpha", 16), ("beta", 8)):
        r = world.call("admin", "PUT", f"/api/v1/orgs/{org}/quotas/H100-80GB", {"guaranteed": guaranteed})
        assert r.status_code == 200, r.text
    r = world.call("alpha-admin", "POST", "/api/v1/reservations",
                   {"gpu_type": "H100", "nodes": 1, "start": WINDOW[0], "end": WINDOW[1], "name": "course"})
    assert r.status_code == 201, r.text
    r = world.call("admin", "POST", f"/api/v1/reservations/{r.json()['id']}/approve")
    assert r.status_code == 200, r.text
    res = r.json()
    ctx = world.app.state.gpucloud
    booking = Booking(str(res["id"]), "alpha", "H100-80GB", tuple(ctx.cluster.node_by_name(n).index
                                                                  for n in res["node_names"]), *WINDOW)
    executor = NoopExecutor(clock=clock, term_ends=False)
    loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, executor, engine=ctx.engine, clock=clock,
                       config=LoopConfig(policy=policy, scheduler=SchedulerConfig()))
    return Live(world, clock, loop, booking, {})


def submit(live: Live, row: Row, expect_id: int) -> None:
    body: dict[str, Any] = {"argv": ["true"], "num_gpus": row.gpus, "walltime": row.walltime,
                            "priority": row.priority, "preemptible": row.preemptible, "grace": row.grace,
                            "env": {SECONDS_ENV: str(row.duration)}}
    if row.nodes is not None:
        body["nodes"] = row.nodes
    if row.reserved:
        body["reservation"] = "course"
    jid = int(live.world.submit(USER[row.org], **body)["id"])
    assert jid == expect_id  # ids follow the trace's order: the same tie-break as the simulator's sequence
    live.durations[jid] = row.duration


def next_event(live: Live, arrivals: list[tuple[float, int]]) -> float | None:
    """The next time something happens on the live side (as the simulator's event heap would say): the next
    arrival, a running job's natural end, its walltime, the end of its grace period (a SIGKILL still to send may be
    due now: the simulator ends a run of grace 0 the moment it is preempted), or the core's wake-up."""
    loop, now = live.loop, live.clock()
    times = [t for t, _ in arrivals[:1]]
    for jid, job in loop.jobs.items():
        if job.ended_at is not None:
            continue
        natural = job.started_at + live.durations[jid]
        if job.stop is None:
            times.append(min(natural, job.deadline))
        elif not job.stop.killed:
            times.append(max(now, min(natural, job.stop.at + job.grace_s)))
    if loop._wake_at is not None and loop._wake_at > now:
        times.append(loop._wake_at)
    if loop.launching:
        times.append(now)
    times = [t for t in times if t >= now]
    return min(times) if times else None


def run_live(live: Live, rows: list[Row]) -> None:
    arrivals = [(row.t, i) for i, row in enumerate(rows)]
    live.loop.tick()
    for _ in range(40 * len(rows)):
        while arrivals and arrivals[0][0] <= live.clock():
            _, i = arrivals.pop(0)
            submit(live, rows[i], i + 1)
        live.loop.tick()
        live.loop.tick()  # what the first tick's signals ended is collected and scheduled at the same time
        t = next_event(live, arrivals)
        if t is None:
            return
        live.clock.now = t
    raise AssertionError("the live run did not settle")


def live_runs(live: Live) -> dict[str, list[tuple[float, tuple[tuple[str, tuple[int, ...]], ...]]]]:
    """Each job's runs: (start, placement) from its admission events."""
    out: dict[str, list[tuple[float, tuple[tuple[str, tuple[int, ...]], ...]]]] = {}
    for jid in live.durations:
        job = live.world.call("admin", "GET", f"/api/v1/jobs/{jid}").json()
        runs = []
        for e in job["events"]:
            if e["to_state"] == "admitted":
                where = e["reason"].removeprefix("admitted on ")
                nodes = tuple((node, tuple(int(g) for g in gpus.split(",")))
                              for node, _, gpus in (part.partition(":") for part in where.split(", ")))
                runs.append((e["at"], nodes))
        out[str(jid)] = runs
    return out


@pytest.mark.parametrize("policy", ["fifo", "backfill", "fairshare", "las", "srtf"])
def test_the_simulator_predicts_what_the_server_does(policy: str, tmp_path: Path) -> None:
    rows = trace()
    live = live_world(tmp_path, policy)
    try:
        run_live(live, rows)
        got_live = live_runs(live)
        live_states = {str(j): live.world.call("admin", "GET", f"/api/v1/jobs/{j}").json() for j in live.durations}
        with live.world.app.state.gpucloud.sessions() as session:
            orgs = load_orgs(session)
    finally:
        live.world.client.close()
        live.world.app.state.gpucloud.engine.dispose()

    cluster = live.loop.cluster()
    jobs = [TraceJob(JobSpec(id=str(i + 1), org=r.org, num_gpus=r.gpus, submit_time=r.t, walltime=r.walltime,
                             gpu_type="H100-80GB", nodes=r.nodes, priority=priority_of(r.priority),
                             preemptible=r.preemptible, grace=r.grace, user=USER[r.org], project="default",
                             reservation=live.booking.id if r.reserved else None), r.duration)
            for i, r in enumerate(rows)]
    result = simulate(cluster, jobs, policy, orgs, SimConfig(checkpoint_interval=NEVER, known_durations=False,
                                                             bookings=(live.booking,)))
    got_sim: dict[str, list[tuple[float, tuple[tuple[str, tuple[int, ...]], ...]]]] = {j: [] for j in got_live}
    for seg in sorted(result.segments, key=lambda s: s.start_time):
        got_sim[seg.job_id].append((seg.start_time, tuple((p.node, tuple(p.gpus))
                                                          for p in placed_nodes(seg.placement, cluster))))
    assert sum(len(r) for r in got_sim.values()) > JOBS // 2  # the comparison is about runs that happened
    mismatched = [j for j in got_live if got_live[j] != got_sim[j]]
    assert not mismatched, [(j, got_live[j], got_sim[j]) for j in mismatched[:3]]
    sim_preempted = {r.job_id: r.preemptions for r in result.jobs}
    assert {j: live_states[j]["preemptions"] for j in got_live} == sim_preempted
    sim_states = {r.job_id: r.state for r in result.jobs}
    assert {j: live_states[j]["state"] for j in got_live} == sim_states
    # what the comparison covered: jobs past their walltime, jobs in the reservation, gangs, preemptions
    assert "timed_out" in sim_states.values()
    booked = {cluster.nodes[n].name for n in live.booking.nodes}
    in_booking = [runs for j, runs in got_sim.items() if rows[int(j) - 1].reserved and runs]
    assert in_booking and all({n for n, _ in runs[0][1]} <= booked for runs in in_booking)
    assert any(len(runs[0][1]) == 2 for runs in got_sim.values() if runs)
    if policy in ("fairshare", "las", "srtf"):
        assert sum(sim_preempted.values()) > 0
