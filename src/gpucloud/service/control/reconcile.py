"""Reconcile: compare each tracked job with its processes, send signals, and decide how it ended.

Per job and tick: poll the executor; if the processes ended, the job's final state is decided by
:func:`outcome`; if they still run, :func:`signals` sends SIGTERM when a stop is due (cancel requested,
walltime reached, preempted) and SIGKILL once the job's grace period after the SIGTERM has passed.
"""

from __future__ import annotations

import logging

from gpucloud.model.job import JobState
from gpucloud.service.control.tracked import Stop, StopKind, Tracked
from gpucloud.service.control.txn import Change, Step
from gpucloud.service.executors.base import Executor, ExitStatus

log = logging.getLogger("gpucloud.control")

HOLDING = frozenset({JobState.RUNNING.value, JobState.PREEMPTING.value})
LOST = "process died while the server was down"


def outcome(job: Tracked, status: ExitStatus, now: float) -> Change:
    """The transition(s) for a job whose processes ended with ``status``."""
    code = {"exit_code": status.exit_code} if status.exit_code is not None else {}
    why = status.reason or (f"exit code {status.exit_code}" if status.exit_code is not None else "ended")
    if job.cancel_requested:
        step = Step(JobState.CANCELLED, f"cancelled: stopped ({why})", now, code)
    elif job.stop is not None and job.stop.kind is StopKind.WALLTIME:
        step = Step(JobState.TIMED_OUT, f"walltime of {job.walltime_s:g}s reached; stopped ({why})", now, code)
    elif job.state is JobState.PREEMPTING:
        if status.ok:
            step = Step(JobState.SUCCEEDED, "exit code 0 (during the preemption grace period)", now, code)
        else:
            step = Step(JobState.PENDING, f"preempted: stopped ({why}); back in the queue", now)
    elif status.ok:
        step = Step(JobState.SUCCEEDED, why, now, code)
    else:
        step = Step(JobState.FAILED, why, now, code)
    return Change(job.id, HOLDING, (step,))


def due_stop(job: Tracked, now: float) -> StopKind | None:
    """Why the job must be stopped now, if it must (and is not being stopped yet)."""
    if job.cancel_requested:
        return StopKind.CANCEL
    if now >= job.deadline:
        return StopKind.WALLTIME
    if job.state is JobState.PREEMPTING:
        return StopKind.PREEMPT
    return None


def signals(executor: Executor, job: Tracked, now: float) -> None:
    """SIGTERM when a stop becomes due; SIGKILL after the grace period."""
    if job.stop is None:
        kind = due_stop(job, now)
        if kind is None:
            return
        job.stop = Stop(kind, now)
        log.info("job %s: SIGTERM (%s)", job.id, kind)
        executor.terminate(job.handle)
    elif job.cancel_requested and job.stop.kind is not StopKind.CANCEL:
        job.stop.kind = StopKind.CANCEL
    if not job.stop.killed and now >= job.stop.at + job.grace_s:
        job.stop.killed = True
        log.info("job %s: SIGKILL after a grace period of %gs", job.id, job.grace_s)
        executor.kill(job.handle)


def reconcile(executor: Executor, jobs: dict[int, Tracked], now: float) -> list[Change]:
    """Poll and signal every tracked job; the changes for those that ended (the caller commits them)."""
    changes: list[Change] = []
    for job in list(jobs.values()):
        try:
            status = executor.poll(job.handle)
            if status is None:
                signals(executor, job, now)
                continue
        except Exception as exc:  # a bad handle must not stop the loop
            log.exception("job %s: cannot watch its processes", job.id)
            status = ExitStatus(None, f"cannot watch the job's processes: {exc}")
        changes.append(outcome(job, status, now))
    return changes
