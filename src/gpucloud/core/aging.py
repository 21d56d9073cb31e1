"""No job waits for ever for lack of room. Under the policies that skip a job that does not fit and try the
next (``fairshare``, ``las``, ``srtf``), a big gang could wait while smaller jobs ranked after it keep taking
every GPU that frees up. So a job that has waited ``starve_after`` seconds since it last entered the queue is
*starving*, and the first starving job in the policy's order that cannot start becomes the cycle's head with
an EASY reservation: a job ranked after it may start only if it does not delay it, as under ``backfill``.

The policy's order is kept: a job of an org with a large fair share, or a long job under SRTF, still lets the
jobs that rank before it go first (moving every long-waiting job to the front would turn an overloaded cluster
into FIFO); it is only protected from being overtaken by the jobs that rank after it.

To bound every wait, under LAS (``Policy.bounds_waits``) the jobs that waited ``overdue_after`` (much longer) go
first in their priority class, the longest waiting first: no job waits much longer than ``overdue_after`` plus
the time the jobs that waited longer take, plus the running jobs' walltimes and grace — unless jobs of a higher
priority class keep coming. Not under fair share: there a job waits because its org used more than its share,
and putting it first is exactly what fair share must not do (on the Philly trace on 56 × 8 it halves the
longest wait, 48.5 → 25.2 days, but the mean JCT goes from 14.6 to 35.7 hours); the decay of usage brings the
org's jobs forward in time. Nor under ``srtf``, the oracle reference, left as the textbook rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob


def starving(state: SchedulerState, job: PendingJob, now: float) -> bool:
    """Has the job waited ``starve_after`` seconds since it entered the queue?"""
    return (job.queued_since or 0.0) <= now - state.config.starve_after


def next_starving(state: SchedulerState, now: float, limit: float) -> float | None:
    """When the next waiting job will have waited ``limit`` seconds (after ``now``), or None."""
    by_queued = state.by_queued
    i = by_queued.bisect_key_right((now - limit, float("inf")))
    return None if i >= len(by_queued) else (by_queued[i].queued_since or 0.0) + limit


def overdue(state: SchedulerState, now: float) -> list[PendingJob]:
    """The jobs that waited ``overdue_after``: by priority class, then the longest waiting first."""
    by_queued = state.by_queued
    out: list[PendingJob] = list(by_queued.islice(0, by_queued.bisect_key_right(
        (now - state.config.overdue_after, float("inf")))))
    if len(state.pending_priorities) > 1:
        out.sort(key=lambda j: -j.spec.priority)  # stable: the longest waiting first within a class
    return out


def overdue_first(order: Iterable[PendingJob], first: list[PendingJob]) -> Iterator[PendingJob]:
    """``order`` (by priority class first, as every policy orders) with the ``first`` jobs (in priority class
    order) moved to the front of their class."""
    ids = {j.spec.id for j in first}
    i = 0
    for job in order:
        if job.spec.id in ids:
            continue
        while i < len(first) and first[i].spec.priority >= job.spec.priority:
            yield first[i]
            i += 1
        yield job
    yield from first[i:]
