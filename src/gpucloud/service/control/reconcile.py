"""Reconcile: merge what the executor reported into the tracked jobs, send signals, and decide how a job ended.

The end-of-walltime and grace rule is the core's (:mod:`gpucloud.core.lifetime`), the one the simulator applies.

A gang is one unit: when a rank fails while others still run, the others are stopped at once (SIGTERM, then
SIGKILL after the job's grace period) and the job ends with the failing rank's status. Stops are also due when a
cancel is requested, at the walltime, and for a preemption.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterable

from gpucloud.core.lifetime import kill_time
from gpucloud.model.job import JobState
from gpucloud.service.control.tracked import Stop, StopKind, Tracked
from gpucloud.service.control.txn import Change, Step
from gpucloud.service.executors.base import Executor, ExitStatus, RankExit

log = logging.getLogger("gpucloud.control")

HOLDING = frozenset({JobState.RUNNING.value, JobState.PREEMPTING.value})
LOST = "process died while the server was down"


def merge_exits(jobs: dict[int, Tracked], exits: Iterable[RankExit], now: float) -> None:
    """Record the ranks that ended in their jobs."""
    for ex in exits:
        job = jobs.get(int(ex.job_id))
        if job is not None:
            job.rank_ended(ex.rank, ex.status, now)


def job_status(job: Tracked, now: float) -> ExitStatus:
    """How a job whose ranks all ended went: the failing rank's status (named, for a gang), or success; ``at`` is
    when its last rank ended by its host's clock, kept between the start and ``now``."""
    times = [s.at for s in job.exits.values() if s.at is not None]
    at = max(times) if times else now
    at = at if job.started_at <= at <= now else now
    if job.cause is None:
        return ExitStatus(0, "exit code 0", at)
    rank, status = job.cause
    reason = status.reason if job.world == 1 else f"rank {rank} ({job.handle.node(rank)}): {status.reason}"
    return ExitStatus(status.exit_code, reason, at, status.lost)


def outcome(job: Tracked, status: ExitStatus, now: float) -> Change:
    """The transition(s) for a job whose ranks ended with ``status``; the event's time is when they ended."""
    at = status.at if status.at is not None else now
    code = {"exit_code": status.exit_code} if status.exit_code is not None else {}
    why = status.reason or (f"exit code {status.exit_code}" if status.exit_code is not None else "ended")
    if job.cancel_requested:
        step = Step(JobState.CANCELLED, f"cancelled: stopped ({why})", at, code)
    elif job.stop is not None and job.stop.kind is StopKind.WALLTIME:
        step = Step(JobState.TIMED_OUT, f"walltime of {job.walltime_s:g}s reached; stopped ({why})", at, code)
    elif job.state is JobState.PREEMPTING:
        if status.ok:
            step = Step(JobState.SUCCEEDED, "exit code 0 (during the preemption grace period)", at, code)
        else:
            step = Step(JobState.PENDING, f"preempted: stopped ({why}); back in the queue", at)
    elif status.lost and job.preemptible:
        step = Step(JobState.PENDING, f"{why}; back in the queue", at)
    elif status.ok:
        step = Step(JobState.SUCCEEDED, why, at, code)
    else:
        step = Step(JobState.FAILED, why, at, code)
    return Change(job.id, HOLDING, (step,))


def due_stop(job: Tracked, now: float) -> StopKind | None:
    """Why the job must be stopped now, if it must (and is not being stopped yet)."""
    if job.cancel_requested:
        return StopKind.CANCEL
    if now >= job.deadline:
        return StopKind.WALLTIME
    if job.state is JobState.PREEMPTING:
        return StopKind.PREEMPT
    if job.cause is not None:
        return StopKind.GANG
    return None


def signals(executor: Executor, job: Tracked, now: float, kills_only: bool = False) -> None:
    """SIGTERM to every rank when a stop becomes due; SIGKILL after the grace period. ``kills_only``: only the
    SIGKILL due (before the loop collects what ended: a job that exits at its walltime is not stopped)."""
    if job.ended_at is not None or (kills_only and job.stop is None):
        return
    if job.stop is None:
        kind = due_stop(job, now)
        if kind is None:
            return
        job.stop = Stop(kind, now)
        log.info("job %s: SIGTERM (%s)", job.id, kind)
        executor.signal(job.handle, signal.SIGTERM)
    elif job.cancel_requested and job.stop.kind is not StopKind.CANCEL:
        job.stop.kind = StopKind.CANCEL
    if not job.stop.killed and now >= kill_time(job.stop.at, job.grace_s):
        job.stop.killed = True
        log.info("job %s: SIGKILL after a grace period of %gs", job.id, job.grace_s)
        executor.signal(job.handle, signal.SIGKILL)
