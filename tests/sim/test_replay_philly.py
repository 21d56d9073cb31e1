"""Replays of the head of the real Philly trace on the overloaded 56 × 8 cluster: every policy gets every job
done in a bounded number of events (a preemption ping-pong — two jobs taking turns being preempted at the same
instant for a job that never starts — once livelocked ``srtf`` here), and the rebuilt-every-cycle driver gives
the same replay."""

from __future__ import annotations

import os

import pytest

from gpucloud.core.policies import POLICIES
from gpucloud.model.cluster_file import parse_inline
from gpucloud.sim.engine import SimConfig, Simulation
from gpucloud.sim.traces import read_trace
from real_traces import PHILLY, require

JOBS = 2000


@pytest.fixture(scope="module")
def head() -> list:  # type: ignore[type-arg]
    require([PHILLY], os.environ)  # before reading it: skipped without the shared trace, failed in CI
    return read_trace(PHILLY).jobs[:JOBS]


@pytest.mark.usefixtures("real_traces")
@pytest.mark.parametrize("policy", POLICIES.names())
def test_every_job_ends_without_a_livelock(policy: str, head: list) -> None:  # type: ignore[type-arg]
    sim = Simulation(parse_inline("56x8"), head, policy)
    steps = 0
    while sim.step():
        steps += 1
        assert steps < 20 * JOBS, f"{policy}: still going after {steps} event times at t={sim.loop.now}"
    res = sim.run()
    assert all(r.end_time is not None for r in res.jobs)


@pytest.mark.usefixtures("real_traces")
@pytest.mark.parametrize("policy", POLICIES.names())
def test_the_rebuilt_driver_replays_the_philly_head_the_same(policy: str, head: list) -> None:  # type: ignore[type-arg]
    jobs = head[:300]
    lived = Simulation(parse_inline("8x8"), jobs, policy).run()
    rebuilt = Simulation(parse_inline("8x8"), jobs, policy, config=SimConfig(rebuild_every_cycle=True)).run()
    assert [(s.job_id, s.start_time, s.end_time, s.placement) for s in rebuilt.segments] == \
        [(s.job_id, s.start_time, s.end_time, s.placement) for s in lived.segments]
