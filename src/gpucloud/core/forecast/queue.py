"""Start-time forecasts for a whole queue: each pending job's predicted start, a range around it, and what it
waits for now.

Three forward runs of the driver (:mod:`.forward`) from the same state: one with every run time at the point
quantile (the median by default), one with the short end of the run times (p10) and one with the long end
(p90). The point run gives the forecast, the other two its range: jobs ahead ending early move a start earlier,
ending late move it later (the range is widened to include the point, as a policy's order may not move all starts
the same way). The first cycle of the point run, explained, says why each job waits and behind which job.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from gpucloud.core.driver import DriverState
from gpucloud.core.forecast.forward import Forward, RunTime, Setup, run_forward
from gpucloud.core.forecast.runtimes import Predictor
from gpucloud.core.policies import POLICIES, Mode
from gpucloud.core.types import CycleResult, WaitReason
from gpucloud.model.job import JobSpec

#: 90 days: a start further ahead than this is "not within the horizon"
DEFAULT_HORIZON = 90 * 86400.0


@dataclass(frozen=True, slots=True)
class ForecastConfig:
    """The quantiles of run time for the point forecast and the two ends of its range, how far ahead to look
    (seconds), and how close events may be to share a cycle (a share of their distance from now)."""

    point: float = 0.5
    low: float = 0.1
    high: float = 0.9
    horizon: float = DEFAULT_HORIZON
    tolerance: float = 0.01
    #: the two runs of the range share cycles more coarsely (a range need not be exact to the minute)
    range_tolerance: float = 0.05


@dataclass(frozen=True, slots=True)
class JobForecast:
    """One pending job: its predicted ``start`` and the range ``earliest``–``latest`` (None: not within the
    horizon), why it waits now (``reason``, the core's wait reason) and the job it waits behind
    (``blocked_by``: the head job of the queue, when the reason is that head)."""

    job_id: str
    start: float | None
    earliest: float | None
    latest: float | None
    reason: str | None
    blocked_by: str | None


def predicted(predictor: Predictor, q: float, setup: Setup) -> RunTime:
    """The forward run's run times: ``predictor`` at quantile ``q``, on the speed of the GPU type run on."""
    speeds = {name: t.speed for name, t in setup.cluster.gpu_types.items()}

    def run_time(spec: JobSpec, gpu_type: str, elapsed: float) -> float:
        return predictor.predict(spec, q, elapsed, speeds[gpu_type]).seconds

    return run_time


def forecast_queue(setup: Setup, state: DriverState, now: float, predictor: Predictor,
                   config: ForecastConfig = ForecastConfig(), *, jobs: Collection[str] | None = None,
                   ranges: bool = True) -> dict[str, JobForecast]:
    """Forecast every pending job of ``state`` (or each of ``jobs``) at ``now``; see the module. ``ranges``:
    also run the two ends of the range (three forward runs instead of one)."""
    horizon = now + config.horizon

    def run(q: float, explain: bool, tolerance: float) -> Forward:
        return run_forward(setup, state, now, predicted(predictor, q, setup), jobs=jobs, horizon=horizon,
                           tolerance=tolerance, explain=explain)

    point = run(config.point, True, config.tolerance)
    low = run(config.low, False, config.range_tolerance).starts if ranges else point.starts
    high = run(config.high, False, config.range_tolerance).starts if ranges else point.starts
    heads = blockers(point.first, POLICIES.get(setup.policy).mode is Mode.STRICT)
    wanted = [j.id for j in state.pending] if jobs is None else [j.id for j in state.pending if j.id in jobs]
    out = {}
    for jid in wanted:
        at = point.starts.get(jid)
        ends = (low.get(jid), at, high.get(jid))
        known = [t for t in ends if t is not None]
        out[jid] = JobForecast(jid, at, min(known, default=None), None if None in ends else max(known),
                               point.first.waiting.get(jid), heads.get(jid))
    return out


#: what a job waits for, per wait reason of the core (the head job is named apart)
_WAITS_FOR = {
    WaitReason.NO_FIT: "running jobs to free enough GPUs",
    WaitReason.QUOTA: "its org's quota",
    WaitReason.PREEMPTING: "the jobs preempted for it to stop",
    WaitReason.RESERVATION: "its reservation's window",
}


def waits_for(f: JobForecast) -> str:
    """What ``f``'s job waits for, in words (empty when it would start now)."""
    if f.blocked_by is not None:
        return f"job {f.blocked_by}, the head of the queue"
    if f.reason is None:
        return ""
    return _WAITS_FOR.get(f.reason, f.reason)


def blockers(first: CycleResult, strict: bool) -> dict[str, str]:
    """Per job waiting behind the queue's head, the head: the job holding the EASY reservation (backfill, or a
    starving job under the skipping policies), or, under a strict policy (fifo), the first job in the order that
    cannot start for its own reasons. Jobs held by their quota, reservation window or preemption wait for that
    instead."""
    own = (WaitReason.QUOTA, WaitReason.RESERVATION, WaitReason.PREEMPTING)
    head = first.head_reservation[0] if first.head_reservation is not None else None
    if head is None and strict:
        head = next((jid for jid in first.order if jid in first.waiting and first.waiting[jid] not in own), None)
    if head is None:
        return {}
    out: dict[str, str] = {}
    behind = False
    for jid in first.order:
        if jid == head:
            behind = True
        elif behind and jid in first.waiting and first.waiting[jid] not in own:
            out[jid] = head
    return out
