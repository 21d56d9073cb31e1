"""No job waits for ever for lack of room. Under the policies that skip a job that does not fit and try the
next (``fairshare``, ``las``, ``srtf``), a big gang could wait while smaller jobs ranked after it keep taking
every GPU that frees up. So a job that has waited ``starve_after`` seconds since it last entered the queue is
*starving*, and the first starving job in the policy's order that cannot start becomes the cycle's head with
an EASY reservation: a job ranked after it may start only if it does not delay it, as under ``backfill``.

The policy's order is kept: a job of an org with a large fair share, or a long job under SRTF, still lets the
jobs that rank before it go first (moving every long-waiting job to the front would turn an overloaded cluster
into FIFO); it is only protected from being overtaken by the jobs that rank after it. Fair share's decaying
usage and LAS's promotion bring a waiting job to the front in time; the reservation makes sure it then fits.
"""

from __future__ import annotations

from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob


def starving(state: SchedulerState, job: PendingJob, now: float) -> bool:
    """Has the job waited ``starve_after`` seconds since it entered the queue?"""
    return (job.queued_since or 0.0) <= now - state.config.starve_after


def next_starving(state: SchedulerState, now: float) -> float | None:
    """When the next waiting job starts to starve (after ``now``), or None."""
    by_queued, limit = state.by_queued, state.config.starve_after
    i = by_queued.bisect_key_right((now - limit, float("inf")))
    return None if i >= len(by_queued) else (by_queued[i].queued_since or 0.0) + limit
