"""What the loop keeps in memory about each job that holds processes: enough to poll, signal and time it
out without reading the database on every tick."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gpucloud.model.job import JobState
from gpucloud.service.executors.base import Handle


class StopKind(StrEnum):
    CANCEL = "cancel"
    WALLTIME = "walltime"
    PREEMPT = "preempt"


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
    stop: Stop | None = None

    @property
    def deadline(self) -> float:
        return self.started_at + self.walltime_s

    def refresh(self, row: Any) -> None:
        """Take the fields the API or the loop may have changed from a fresh row."""
        self.state = JobState(row.state)
        self.cancel_requested = bool(row.cancel_requested)
        if row.started_at is not None:
            self.started_at = row.started_at


def track(row: Any, handle: Handle, now: float) -> Tracked:
    return Tracked(row.id, JobState(row.state), handle, row.started_at if row.started_at is not None else now,
                   row.walltime_s, row.grace_s, bool(row.cancel_requested))
