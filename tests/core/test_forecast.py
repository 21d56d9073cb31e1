"""Start-time forecasts (``gpucloud.core.forecast``): the run-time predictor on hand-worked histories, the forward
run of tiny queues against start times worked out by hand, and shape advice."""

from __future__ import annotations

import pytest

from gpucloud.core.driver import Driver, DriverState
from gpucloud.core.forecast.advice import advise
from gpucloud.core.forecast.forward import Setup
from gpucloud.core.forecast.queue import ForecastConfig, forecast_queue, waits_for
from gpucloud.core.forecast.runtimes import RanJob, RunTimes, WalltimeOnly, wall_class
from gpucloud.core.types import PendingJob, Placement, RunningJob
from gpucloud.model.cluster_file import cluster_from_dict, parse_inline
from gpucloud.model.job import JobSpec

GT = "H100-80GB"


def job(jid: str, gpus: int, walltime: float, user: str = "u", **kw: object) -> JobSpec:
    return JobSpec(jid, str(kw.pop("org", "a")), gpus, 0.0, walltime, user=user, **kw)  # type: ignore[arg-type]


def history(ratios: list[float], user: str = "u", gpus: int = 8, requested: float = 1000.0) -> RunTimes:
    p = RunTimes()
    for r in ratios:
        p.learn(RanJob(user, "p", "a", gpus, requested, r * requested))
    return p


def test_the_median_ratio_of_the_most_specific_group_times_the_walltime() -> None:
    p = history([0.5, 0.1, 0.4, 0.2, 0.3])
    e = p.predict(job("x", 8, 1000.0), 0.5)
    # sorted 0.1 .. 0.5: the 0.5 quantile is the third of five: 0.3
    assert (e.seconds, e.level, e.samples) == pytest.approx((300.0, "user+shape", 5))
    assert e.basis == "0.30 × walltime, from 5 runs of this user and shape"
    # another walltime class of the same user: its user group (not the shape's) answers
    assert p.predict(job("x", 8, 8 * 3600.0), 0.5).level == "user"
    # someone else of the org, same shape: the org and shape's runs
    assert p.predict(job("y", 8, 1000.0, user="v"), 0.1).seconds == pytest.approx(100.0)
    # twice as fast a GPU: half the time
    assert p.predict(job("x", 8, 1000.0), 0.5, speed=2.0).seconds == pytest.approx(150.0)
    assert wall_class(1000.0) == wall_class(1500.0) != wall_class(2000.0)


def test_too_little_history_falls_back_to_the_walltime() -> None:
    e = history([0.1, 0.2, 0.3, 0.4]).predict(job("x", 8, 1000.0), 0.5)
    assert (e.seconds, e.level) == (1000.0, "walltime")
    assert WalltimeOnly().predict(job("x", 8, 1000.0), 0.5).seconds == 1000.0


def test_a_running_job_is_predicted_from_the_runs_that_lasted_as_long() -> None:
    p = history([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    p.min_samples = 3
    # 250 s of 1000 done: the runs past 0.25 are 0.3 .. 0.8 (six); the median of those is the fourth: 0.6
    assert p.predict(job("x", 8, 1000.0), 0.5, elapsed=250.0).seconds == pytest.approx(600.0)
    # past 0.55 three are left (0.6 .. 0.8): still enough, the second; past 0.65 two: the walltime
    assert p.predict(job("x", 8, 1000.0), 0.5, elapsed=550.0).seconds == pytest.approx(700.0)
    assert p.predict(job("x", 8, 1000.0), 0.5, elapsed=650.0).level == "walltime"


def _state(cluster_nodes: int, running: list[tuple[JobSpec, int, int, float]], pending: list[JobSpec],
           now: float, policy: str = "backfill") -> tuple[Setup, DriverState]:
    """A driver's state: running (spec, node, GPUs from 0, start) and pending jobs in order."""
    cluster = parse_inline(f"{cluster_nodes}x8")
    d = Driver(cluster, policy=policy)
    for i, (spec, node, gpus, start) in enumerate(running):
        d.restore_running(RunningJob(spec, Placement(GT, ((node, tuple(range(gpus))),)), start, seq=i + 1))
    for i, spec in enumerate(pending):
        d.submit(PendingJob(spec, queued_since=now, seq=100 + i))
    state = d.export()
    state.now = now
    return Setup(cluster, None, policy), state


def test_backfill_queue_by_walltimes_matches_the_times_worked_by_hand() -> None:
    """Two 8-GPU nodes. r1 holds node 0 until 1000, r2 half of node 1 until 400. At 100: p1 (16 GPUs, the head)
    needs both nodes: 1000. p2 (4 GPUs, 300 s) fits the free half of node 1 and ends by 1000: backfilled now.
    p3 (8 GPUs, 2000 s) would delay p1: after p1 ends, at 1500."""
    setup, state = _state(2, [(job("r1", 8, 1000.0), 0, 8, 0.0), (job("r2", 4, 400.0), 1, 4, 0.0)],
                          [job("p1", 16, 500.0), job("p2", 4, 300.0), job("p3", 8, 2000.0)], 100.0)
    out = forecast_queue(setup, state, 100.0, WalltimeOnly())
    assert {j: f.start for j, f in out.items()} == {"p1": 1000.0, "p2": 100.0, "p3": 1500.0}
    assert out["p2"].reason is None and waits_for(out["p2"]) == ""
    assert out["p1"].reason == "no fitting nodes" and out["p1"].blocked_by is None
    # walltimes only: the range is the point
    assert (out["p3"].earliest, out["p3"].latest) == (1500.0, 1500.0)


def test_fifo_head_blocks_and_is_named() -> None:
    setup, state = _state(1, [(job("r1", 8, 1000.0), 0, 8, 0.0)], [job("p1", 8, 500.0), job("p2", 1, 60.0)],
                          0.0, policy="fifo")
    out = forecast_queue(setup, state, 0.0, WalltimeOnly())
    assert (out["p1"].start, out["p2"].start) == (1000.0, 1500.0)
    assert out["p2"].blocked_by == "p1" and waits_for(out["p2"]) == "job p1, the head of the queue"


def test_learned_run_times_give_the_point_and_its_range() -> None:
    """u's runs took 0.1 .. 1.0 of their walltime. r1 (u, 1000 s asked) has run 100 s: of the runs that lasted
    past 0.1, p10 is 0.2, p50 0.6, p90 1.0 — so p1, behind it on the only node, starts at 200 / 600 / 1000."""
    p = history([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    setup, state = _state(1, [(job("r1", 8, 1000.0), 0, 8, 0.0)], [job("p1", 8, 500.0, user="v")], 100.0)
    f = forecast_queue(setup, state, 100.0, p)["p1"]
    assert (f.earliest, f.start, f.latest) == (200.0, 600.0, 1000.0)
    assert forecast_queue(setup, state, 100.0, p, ForecastConfig(horizon=300.0))["p1"].start is None


def test_advice_offers_other_shapes_types_and_a_shorter_walltime() -> None:
    """Two 8-GPU H100 nodes, one busy until 10,000 s; two free B200 nodes (twice as fast). A 16-GPU H100 job
    asking 4 h waits for the busy node; 16 B200s run it in half the walltime, now. Spreading it over 4, 8 or 16
    nodes fits no node set of the cluster (left out); 2 × 8 is what it gets already; asked on the walltime
    alone, no shorter walltime is likely enough."""
    cluster = cluster_from_dict({"name": "mix", "gpu_types": {"B200-180GB": {"memory_gb": 180, "speed": 2.0}},
                                 "blocks": [{"name": "b", "racks": [{"name": "r", "nodes": [
                                     {"name": "h", "count": 2, "gpus": 8, "gpu_type": GT},
                                     {"name": "x", "count": 2, "gpus": 8, "gpu_type": "B200-180GB"}]}]}]})
    d = Driver(cluster, policy="backfill")
    d.restore_running(RunningJob(job("r1", 8, 10_000.0, gpu_type=GT), Placement(GT, ((0, tuple(range(8))),)), 0.0))
    d.submit(PendingJob(job("p", 16, 4 * 3600.0, gpu_type=GT), queued_since=0.0, seq=5))
    options = advise(Setup(cluster, None, "backfill"), d.export(), 0.0, "p", WalltimeOnly())
    by_label = {o.label: o for o in options}
    assert by_label["as asked"].current and by_label["as asked"].start == 10_000.0
    b200 = by_label["16 × B200-180GB, walltime 2.0 h"]
    assert (b200.start, b200.end, b200.walltime) == (0.0, 7200.0, 7200.0)
    assert options[0] is b200  # the earliest end first
    assert set(by_label) == {"as asked", "16 × B200-180GB, walltime 2.0 h"}
    # with a history of runs far shorter than asked, a shorter walltime is offered (p90 1 h × 1.2, rounded up)
    p = history([0.25] * 5, user="u", gpus=16, requested=4 * 3600.0)
    short = {o.label: o for o in advise(Setup(cluster, None, "backfill"), d.export(), 0.0, "p", p)}
    assert short["walltime 1.2 h"].walltime == 4500.0
    with pytest.raises(KeyError):
        advise(Setup(cluster, None, "backfill"), d.export(), 0.0, "r1", WalltimeOnly())
