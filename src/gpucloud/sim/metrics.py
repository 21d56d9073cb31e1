"""Summary figures of one simulation run: waits, job completion times, utilisation, per-org usage, fairness.

Definitions (all times in seconds of simulated time):

* ``wait`` = first start − submit; ``jct`` (job completion time) = end − submit. Only jobs that started
  (wait) or ended (JCT) count; after a complete run that is every job.
* Percentiles use numpy's default ``linear`` method (type 7 of Hyndman & Fan): the value at rank
  ``p/100 × (n − 1)`` of the sorted values, interpolated between neighbours. The median is the 50th
  percentile by the same rule. An empty set of values gives ``None``.
* ``utilisation`` = busy GPU-seconds / (cluster GPUs × makespan), where the makespan is the time of the last
  job's end (traces start at time 0). Busy time includes the grace periods of preempted jobs and work that
  was later lost, because the GPUs were held.
* Per org: ``gpu_hours`` held (from the run segments), ``share`` of all GPU-hours, ``avg_wait``, and
  ``mean_slowdown``.
* ``jain_fairness`` is Jain's index ``(Σx)² / (n·Σx²)`` over the orgs, where ``x`` is an org's mean slowdown
  ``JCT / duration`` (duration = the job's true run time on a speed-1.0 GPU). Jobs with duration 0 are left
  out (their slowdown is undefined), and so are orgs left with no job. 1.0 means every org is slowed down
  alike; ``1/n`` means one org takes all the slowdown. ``None`` when no org has a job to count.
* ``jain_share`` is fair share attained (:mod:`gpucloud.sim.fairness`): per hour, Jain's index over the orgs
  that had a job waiting of each one's share of their GPU-time divided by its entitlement (quota, else
  weight), averaged over the hours with at least two such orgs by their GPU-time; ``None`` without contention.
* ``longest_wait``: the longest any job waited at once (to its first start, or to a restart after a
  preemption); ``longest_waited``: the most time any job spent waiting in all; ``lost_gpu_hours``: GPU time of
  work thrown away by preemptions (``lost_share`` of all GPU-hours).
* ``money`` (only in a priced replay): :meth:`gpucloud.sim.money_report.MoneyReport.to_dict` — points per org
  and per org × GPU type, and with budgets what each org had, has left and when it ran dry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gpucloud.sim.engine import SimResult
from gpucloud.sim.fairness import jain_share

#: The percentiles reported for waits and JCTs.
PERCENTILES = (50.0, 95.0, 99.0)


@dataclass(frozen=True, slots=True)
class Stats:
    """Average, median, 95th and 99th percentile of a set of durations (seconds); ``None`` when empty."""

    avg: float | None
    median: float | None
    p95: float | None
    p99: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            return cls(None, None, None, None)
        arr = np.asarray(values, dtype=float)
        p50, p95, p99 = (float(v) for v in np.percentile(arr, PERCENTILES, method="linear"))
        return cls(float(arr.mean()), p50, p95, p99)


@dataclass(frozen=True, slots=True)
class OrgSummary:
    """One org's share of a run."""

    jobs: int
    gpu_hours: float
    share: float
    avg_wait: float | None
    mean_slowdown: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures of one run; :meth:`to_dict` gives the ``summary.json`` form."""

    policy: str
    jobs: int
    finished: int
    wait: Stats
    jct: Stats
    makespan: float
    total_gpus: int
    gpu_hours: float
    utilisation: float
    jain_fairness: float | None
    jain_share: float | None
    longest_wait: float
    longest_waited: float
    lost_gpu_hours: float
    lost_share: float
    preemptions: int
    timed_out: int
    cycles: int
    wall_time: float
    orgs: dict[str, OrgSummary] = field(default_factory=dict)
    money: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``None`` becomes ``null``); the keys are the field names (``money`` only when
        the replay was priced)."""
        out = asdict(self)
        if out["money"] is None:
            del out["money"]
        out["fairness_metric"] = "jain index over orgs of mean slowdown (jct / duration)"
        out["share_fairness_metric"] = ("hourly jain index over orgs with waiting jobs of their GPU-time share / "
                                        "entitlement (quota, else weight), weighted by GPU-time")
        out["percentile_method"] = "numpy linear"
        return out


def jain_index(values: Sequence[float]) -> float | None:
    """Jain's fairness index ``(Σx)² / (n·Σx²)`` of ``values``; ``None`` when empty or all zero."""
    if not values:
        return None
    total = sum(values)
    squares = sum(v * v for v in values)
    if squares == 0:
        return None
    return total * total / (len(values) * squares)


def summarize(result: SimResult) -> Summary:
    """Reduce a :class:`SimResult` to its :class:`Summary` (see the module docstring for the definitions)."""
    waits: list[float] = []
    jcts: list[float] = []
    org_of: dict[str, str] = {}
    org_jobs: dict[str, int] = {}
    org_waits: dict[str, list[float]] = {}
    org_slow: dict[str, list[float]] = {}
    timed_out = 0
    for rec in result.jobs:
        org = rec.org
        org_of[rec.job_id] = org
        org_jobs[org] = org_jobs.get(org, 0) + 1
        org_waits.setdefault(org, [])
        if rec.start_time is not None:
            w = rec.start_time - rec.submit_time
            waits.append(w)
            org_waits[org].append(w)
        if rec.end_time is not None:
            j = rec.end_time - rec.submit_time
            jcts.append(j)
            if rec.duration > 0:
                org_slow.setdefault(org, []).append(j / rec.duration)
        if rec.state == "timed_out":
            timed_out += 1

    org_secs: dict[str, float] = dict.fromkeys(org_jobs, 0.0)
    for seg in result.segments:
        org = org_of.get(seg.job_id, "")
        org_secs[org] = org_secs.get(org, 0.0) + seg.placement.gpus * (seg.end_time - seg.start_time)
    total_secs = sum(org_secs.values())

    orgs: dict[str, OrgSummary] = {}
    for org in sorted(org_secs):
        ow = org_waits.get(org, [])
        slow = org_slow.get(org)
        orgs[org] = OrgSummary(
            jobs=org_jobs.get(org, 0),
            gpu_hours=org_secs[org] / 3600.0,
            share=org_secs[org] / total_secs if total_secs > 0 else 0.0,
            avg_wait=sum(ow) / len(ow) if ow else None,
            mean_slowdown=sum(slow) / len(slow) if slow else None,
        )
    slowdowns = [o.mean_slowdown for o in orgs.values() if o.mean_slowdown is not None]

    total_gpus = result.cluster.total_gpus
    capacity = total_gpus * result.makespan
    return Summary(
        policy=result.policy,
        jobs=len(result.jobs),
        finished=len(jcts),
        wait=Stats.of(waits),
        jct=Stats.of(jcts),
        makespan=result.makespan,
        total_gpus=total_gpus,
        gpu_hours=result.busy_gpu_seconds / 3600.0,
        utilisation=result.busy_gpu_seconds / capacity if capacity > 0 else 0.0,
        jain_fairness=jain_index(slowdowns),
        jain_share=jain_share(result.jobs, result.segments, result.entitlement),
        longest_wait=max((r.longest_wait for r in result.jobs), default=0.0),
        longest_waited=max((r.waited for r in result.jobs), default=0.0),
        lost_gpu_hours=result.lost_gpu_seconds / 3600.0,
        lost_share=result.lost_gpu_seconds / result.busy_gpu_seconds if result.busy_gpu_seconds > 0 else 0.0,
        preemptions=result.preemptions,
        timed_out=timed_out,
        cycles=result.cycles,
        wall_time=result.wall_time,
        orgs=orgs,
        money=result.money.to_dict() if result.money is not None else None,
    )
