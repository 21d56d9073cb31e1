"""What the loop keeps in memory about each job that holds processes: enough to watch, signal and time it out
without reading the database on every tick, and the ranks that ended so far (a gang ends as one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gpucloud.core.lifetime import walltime_end
from gpucloud.model.job import JobState
from gpucloud.service.executors.base import ExitStatus, Handle


class StopKind(StrEnum):
    CANCEL = "cancel"
    WALLTIME = "walltime"
    PREEMPT = "preempt"
    #: a rank failed: the others are stopped, and the job ends with the failing rank's status
    GANG = "gang"


@dataclass(slots=True)
class Stop:
    """The loop is stopping the job: SIGTERM sent at ``at``; SIGKILL once the grace period is over."""

    kind: StopKind
    at: float
    killed: bool = False


@dataclass(slots=True)
class Tracked:
    id: int
    state: JobState
    handle: Handle
    started_at: float
    walltime_s: float
    grace_s: float
    cancel_requested: bool
    preemptible: bool = True
    stop: Stop | None = None
    #: ranks that ended, and how
    exits: dict[int, ExitStatus] = field(default_factory=dict)
    #: the first rank that failed (the job ends with its status), as (rank, status)
    cause: tuple[int, ExitStatus] | None = None
    #: when every rank had ended (the job is over; it is committed once its logs are copied)
    ended_at: float | None = None

    @property
    def deadline(self) -> float:
        """When the run must be stopped for its walltime (the core's rule: :mod:`gpucloud.core.lifetime`)."""
        return walltime_end(self.started_at, self.walltime_s)

    @property
    def world(self) -> int:
        return self.handle.world

    def rank_ended(self, rank: int, status: ExitStatus, now: float) -> None:
        """Record rank ``rank``'s end; the first failure becomes the cause; all ended: the job is over."""
        if rank in self.exits:
            return
        self.exits[rank] = status
        if not status.ok and self.cause is None:
            self.cause = (rank, status)
        if len(self.exits) >= self.world and self.ended_at is None:
            self.ended_at = now

    def refresh(self, row: Any) -> None:
        """Take the fields the API or the loop may have changed from a fresh row."""
        self.state = JobState(row.state)
        self.cancel_requested = bool(row.cancel_requested)
        if row.started_at is not None:
            self.started_at = row.started_at


def track(row: Any, handle: Handle, now: float) -> Tracked:
    return Tracked(row.id, JobState(row.state), handle, row.started_at if row.started_at is not None else now,
                   row.walltime_s, row.grace_s, bool(row.cancel_requested), bool(row.preemptible))
