"""The end-of-walltime and grace rule: when a running job must be stopped, and until when it may hold its GPUs.

One rule for the live control loop and the simulator (and every plan of the core):

* A run may go on until its walltime, counted from the start of the run: then it is stopped (SIGTERM,
  :attr:`StopKind.WALLTIME`). It may also be stopped earlier: preempted, or cancelled by its owner.
* A stopped run gets its grace period to checkpoint and exit; when that is over it is killed (SIGKILL).
* So a run holds its GPUs at the latest until ``stop + grace``, where ``stop`` is the time it was stopped, or
  its walltime end when it was not stopped before: :func:`held_until`. A job starting at ``t`` may hold its
  GPUs until ``t + walltime + grace`` (:func:`span`): backfill and reservation plans count that, never the
  walltime alone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from gpucloud.model.job import JobSpec

if TYPE_CHECKING:
    from gpucloud.core.types import RunningJob


class StopKind(StrEnum):
    """Why a running job is being stopped."""

    WALLTIME = "walltime"
    PREEMPT = "preempt"
    CANCEL = "cancel"


def span(spec: JobSpec) -> float:
    """The longest one run of the job may hold its GPUs: its walltime plus its grace period."""
    return spec.walltime + spec.grace


def walltime_end(start: float, walltime: float) -> float:
    """When a run that started at ``start`` must be stopped for its walltime."""
    return start + walltime


def kill_time(stopped: float, grace: float) -> float:
    """When a run stopped (SIGTERM) at ``stopped`` is killed: its grace period is over."""
    return stopped + grace


def deadline(run: RunningJob) -> float:
    """When the run must be stopped for its walltime."""
    return walltime_end(run.start, run.spec.walltime)


def stop_time(run: RunningJob) -> float:
    """When the run was (or will be) stopped: the earlier of its stop and its walltime end."""
    end = deadline(run)
    stop = run.stop_at
    return end if stop is None or stop > end else stop


def held_until(run: RunningJob) -> float:
    """The latest time the run may still hold its GPUs: its stop plus its grace period (then it is killed)."""
    return kill_time(stop_time(run), run.spec.grace)


def stopping(run: RunningJob, now: float) -> bool:
    """Is the run being stopped at ``now`` (stopped earlier, or past its walltime)? Such a run is in its grace
    period: it is never chosen as a victim, and it frees its GPUs by :func:`held_until`."""
    return run.stop_at is not None or now >= run.start + run.spec.walltime
