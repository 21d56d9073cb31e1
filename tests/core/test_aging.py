"""No job waits for ever for lack of room under the policies that skip a job that does not fit
(``gpucloud.core.aging``): the first job in the policy's order that waited ``starve_after`` and cannot start
gets a reservation that the jobs ranked after it may not delay; under LAS a job that waited ``overdue_after``
goes first."""

from __future__ import annotations

import pytest

from gpucloud.core.driver import Driver
from gpucloud.core.state import SchedulerConfig
from gpucloud.core.types import PendingJob, Placement, RunningJob
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.job import JobSpec
from gpucloud.sim.engine import SimConfig, simulate
from gpucloud.sim.traces.base import TraceJob


def stream_with_a_gang(starve_after: float, policy: str) -> dict[str, float | None]:
    """2 nodes × 4 GPUs. From t=0 a 1-GPU job of 100 s arrives every 12.5 s (400 of them, until t=5,000), enough
    to keep all 8 GPUs busy; at t=10 a gang G of 2 nodes × 4 arrives. Each small job takes a GPU as soon as one
    frees up, so G never finds two free nodes while the stream lasts — unless it starves and is given a
    reservation. Returns each job's start."""
    jobs = [TraceJob(JobSpec(f"s{i:03d}", "a", 1, 12.5 * i, 200.0), 100.0) for i in range(400)]
    jobs.append(TraceJob(JobSpec("G", "b", 8, 10.0, 1000.0), 300.0))
    config = SimConfig(checkpoint_interval=0, scheduler=SchedulerConfig(starve_after=starve_after))
    res = simulate(parse_inline("2x4"), jobs, policy, config=config)
    return {r.job_id: r.start_time for r in res.jobs}


@pytest.mark.parametrize("policy", ["fairshare", "las"])
def test_a_starving_gang_gets_a_reservation(policy: str) -> None:
    """G starves at t=1,010. It ranks first (org b has used nothing; under LAS it is the oldest of queue 0), so
    from then on no small job may take a GPU of the two nodes G is planned on unless it ends before G's start:
    each running small job ends within its 200-s walltime, so G starts by t=1,210. (Under ``srtf`` every short
    job ranks before G: the reservation protects G only from jobs longer than it.)"""
    starts = stream_with_a_gang(1000.0, policy)
    g = starts["G"]
    assert g is not None and 1010.0 <= g <= 1210.0, g


@pytest.mark.parametrize("policy", ["fairshare", "las"])
def test_without_the_limit_the_gang_waits_for_the_stream_to_end(policy: str) -> None:
    starts = stream_with_a_gang(1e9, policy)
    g = starts["G"]
    assert g is not None and g >= 4900.0, g


def admitted_after_a_long_wait(overdue_after: float) -> str:
    """1 GPU under LAS (a threshold of 100 s, no minimum run, no promotion). L ran 300 s before (queue 1) and
    waits since t=0; queue-0 jobs rank before it and keep coming. At t=510, when the GPU frees up, one of them
    (Q) is waiting too. Returns the job admitted then."""
    config = SchedulerConfig(las_thresholds=(100.0,), las_min_run=0.0, las_starve_limit=1e9,
                             overdue_after=overdue_after)
    d = Driver(parse_inline("1x1"), policy="las", config=config)
    d.restore_running(RunningJob(JobSpec("R", "a", 1, 0.0, 1000.0), Placement("H100-80GB", ((0, (0,)),)), 0.0))
    d.submit(PendingJob(JobSpec("L", "b", 1, 0.0, 1000.0), attained=300.0, queued_since=0.0))
    d.submit(PendingJob(JobSpec("Q", "a", 1, 500.0, 100.0)))
    d.finished("R", 510.0)
    (adm,) = d.cycle(510.0).admissions
    return adm.job_id


def test_an_overdue_job_goes_first_in_its_class() -> None:
    """With ``overdue_after`` 500 s, L (waited 510 s) goes first; without, the queue-0 job does."""
    assert admitted_after_a_long_wait(500.0) == "L"
    assert admitted_after_a_long_wait(1e9) == "Q"
