"""Measuring start-time forecasts on a replay (``gpucloud.sim.forecast_accuracy``) and the walltime requests made
as users make them (``gpucloud.sim.traces.requests``)."""

from __future__ import annotations

import pytest

from gpucloud.core.forecast.runtimes import RunTimes, WalltimeOnly
from gpucloud.errors import InputError
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.job import JobSpec
from gpucloud.sim.forecast_accuracy import measure
from gpucloud.sim.traces.base import TraceJob
from gpucloud.sim.traces.requests import RequestModel, round_up, with_requests


def _jobs(durations: list[float], walltime: float) -> list[TraceJob]:
    return [TraceJob(JobSpec(f"j{i}", "a", 1, float(i), walltime), d) for i, d in enumerate(durations)]


def test_exact_walltimes_give_exact_forecasts_and_long_ones_late_forecasts() -> None:
    """One GPU; four jobs of 1,000 s submitted at 0–3 s. The moment is 1.5 s, forecast at the first cycle after
    it (2 s, j2's arrival): j0 runs, j1 and j2 wait and start at 1,000 and 2,000. Asked exactly, walltime-only is
    right; asked 3,000 s, it is 2,000 and 4,000 s late."""
    exact = measure(parse_inline("1x1"), _jobs([1000.0] * 4, 1000.0), "fifo", {"w": WalltimeOnly}, moments=1)
    assert [(s.forecast.job_id, s.forecast.start, s.truth) for s in exact.samples["w"]] == [
        ("j1", 1000.0, 1000.0), ("j2", 2000.0, 2000.0)]
    a = exact.accuracy()["w"]
    assert (a.samples, a.median_error, a.within_1min, a.within_goal, a.in_range) == (2, 0.0, 1.0, 1.0, 1.0)
    late = measure(parse_inline("1x1"), _jobs([1000.0] * 4, 3000.0), "fifo", {"w": WalltimeOnly, "l": RunTimes},
                   moments=1, history=_jobs([1000.0] * 5, 3000.0))
    assert [s.error for s in late.samples["w"]] == [2000.0, 4000.0] and late.accuracy()["w"].within_10min == 0.0
    # the learned predictor knows five earlier runs of 1,000 s asking 3,000: a third of the walltime, exact
    assert late.accuracy()["l"].median_error == 0.0


def test_requests_are_rounded_up_often_the_maximum_and_deterministic() -> None:
    assert round_up(61.0, 7 * 86400) == 300 and round_up(301.0, 7 * 86400) == 600
    assert round_up(3600.0, 7 * 86400) == 3600
    assert round_up(30 * 86400, 7 * 86400) == 7 * 86400
    jobs = _jobs([100.0 * (i + 1) for i in range(200)] + [8.5 * 86400], 1.0)
    asked = with_requests(jobs, RequestModel(seed=3))
    assert asked == with_requests(jobs, RequestModel(seed=3))
    walls = [j.spec.walltime for j in asked]
    assert all(w >= j.duration for w, j in zip(walls, jobs, strict=True))  # no job is cut short
    assert walls[-1] == 9 * 86400  # longer than the maximum: granted whole days
    assert 0.05 < sum(1 for w in walls[:-1] if w == 7 * 86400) / 200 < 0.6
    with pytest.raises(InputError, match="max_share"):
        RequestModel(max_share=(0.6, 0.2))
