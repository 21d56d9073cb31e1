"""LAS must not starve long jobs (Tiresias' rules).

* A job that waited at least ``las_starve_limit`` × its executed time (run time since it last entered queue 0)
  is promoted to queue 0 and its attained service is reset, so a stream of fresh short jobs does not preempt
  it again at once.
* A running job is not preempted by LAS (for a job of its own class) before it ran ``las_min_run`` seconds.
"""

from __future__ import annotations

from itertools import pairwise

from gpucloud.core.state import SchedulerConfig
from gpucloud.core.types import PendingJob
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.job import JobSpec
from gpucloud.sim.engine import SimConfig, simulate
from gpucloud.sim.traces.base import TraceJob


def stream(config: SchedulerConfig) -> dict[str, list[tuple[float, float]]]:
    """One GPU. L (1,000 s) at t=0; from t=100 a 40-s job arrives every 40 s, 100 of them (until t=4,100).
    Returns each job's run segments."""
    jobs = [TraceJob(JobSpec("L", "a", 1, 0.0, 10_000.0), 1000.0)]
    jobs += [TraceJob(JobSpec(f"s{i:03d}", "a", 1, 100.0 + 40.0 * i, 400.0), 40.0) for i in range(100)]
    res = simulate(parse_inline("1x1"), jobs, "las", config=SimConfig(checkpoint_interval=0, scheduler=config))
    out: dict[str, list[tuple[float, float]]] = {}
    for s in res.segments:
        out.setdefault(s.job_id, []).append((s.start_time, s.end_time))
    return out


def test_a_long_job_is_promoted_and_finishes_while_short_jobs_keep_coming() -> None:
    """Thresholds (100,), starve limit 2, minimum run 200 s. L crosses into queue 1 at t=100 but may not be
    preempted before it ran 200 s: s000 waits until t=200. L has then executed 200 s, so it is promoted after
    waiting 2 × 200 s, at t=600, with its attained service reset; it ranks before every queue-0 job queued
    after it (t=200), and one ends at 600: L runs 600..800. Each later run is again 200 s, then 400 s of
    waiting and the short jobs queued before it. L ends before the stream ends (t=4,100); on a LAS without
    promotion it would end after it."""
    config = SchedulerConfig(las_thresholds=(100.0,), las_starve_limit=2.0, las_min_run=200.0)
    segs = stream(config)["L"]
    assert segs[:2] == [(0.0, 200.0), (600.0, 800.0)]
    assert all(e - s == 200.0 for s, e in segs), segs
    assert sum(e - s for s, e in segs) == 1000.0
    assert all(b >= e + 400.0 for (_, e), (b, _) in pairwise(segs)), segs
    assert segs[-1][1] < 4100.0, segs


def test_the_default_minimum_run_keeps_short_jobs_from_cutting_a_run_into_slices() -> None:
    """With the defaults (a 1,800-s minimum run) and small thresholds, L crosses into queue 1 at t=100 but none
    of the 40-s jobs may preempt it before it ran 1,800 s: it runs through (1,000 s) in one piece."""
    segs = stream(SchedulerConfig(las_thresholds=(100.0,)))["L"]
    assert segs == [(0.0, 1000.0)]


def test_promotion_resets_attained_service_and_the_admission_says_so() -> None:
    """Core level: a queue-1 job that waited long enough is admitted with attained service 0 — the number the
    caller stores for the new run (the live service keeps it in ``attained_gpu_s``)."""
    from gpucloud.core.scheduler import Scheduler

    s = Scheduler(parse_inline("1x1"), policy="las",
                  config=SchedulerConfig(las_thresholds=(100.0,), las_starve_limit=2.0))
    # 300 GPU-s attained (queue 1): executed 300 s on 1 GPU; queued at t=1000.
    s.submit(PendingJob(JobSpec("old", "a", 1, 0.0, 5000.0), attained=300.0, queued_since=1000.0))
    s.submit(PendingJob(JobSpec("new", "a", 1, 1500.0, 5000.0), queued_since=1500.0))
    # At t=1500 "old" waited 500 < 2 × 300: not promoted; "new" (queue 0) goes first.
    assert [a.job_id for a in s.cycle(1500.0).admissions] == ["new"]
    s.release("new", 1550.0)
    # At t=1600 it waited 600 >= 600: promoted; it starts with its attained service reset.
    (adm,) = s.cycle(1600.0).admissions
    assert (adm.job_id, adm.attained) == ("old", 0.0)
    assert s.state.running["old"].attained_before == 0.0
