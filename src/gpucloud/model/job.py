"""Jobs as the scheduling core sees them: the request (shape, type, walltime, priority) and its states."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from gpucloud.errors import InputError


class JobState(StrEnum):
    PENDING = "pending"
    ADMITTED = "admitted"
    RUNNING = "running"
    PREEMPTING = "preempting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT})


@dataclass(frozen=True, slots=True)
class Shape:
    """A gang: ``nodes`` distinct nodes with ``per_node`` GPUs on each."""

    nodes: int
    per_node: int

    @property
    def gpus(self) -> int:
        return self.nodes * self.per_node


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a user asked for.

    ``num_gpus`` GPUs in total. Unless ``nodes`` is given, a job that fits one node stays on one node and a
    larger one is spread evenly over the fewest whole nodes (16 GPUs on 8-GPU nodes: 2 × 8). ``nodes`` asks
    for an explicit gang of ``nodes`` × ``num_gpus / nodes``. ``gpu_type`` None means any type.
    """

    id: str
    org: str
    num_gpus: int
    submit_time: float
    walltime: float
    gpu_type: str | None = None
    nodes: int | None = None
    priority: int = 0
    preemptible: bool = True
    grace: float = 0.0
    user: str = ""
    project: str = ""
    #: the booking (advance reservation) the job runs in: only its nodes, only in its window
    reservation: str | None = None

    def __post_init__(self) -> None:
        if self.num_gpus < 1:
            raise InputError("num_gpus", "must be at least 1", self.num_gpus)
        if not math.isfinite(self.walltime) or self.walltime <= 0:
            raise InputError("walltime", "must be a positive number of seconds", self.walltime)
        if not math.isfinite(self.submit_time):
            raise InputError("submit_time", "must be a finite number of seconds", self.submit_time)
        if not math.isfinite(self.grace) or self.grace < 0:
            raise InputError("grace", "must be a finite, non-negative number of seconds", self.grace)
        if self.nodes is not None and (self.nodes < 1 or self.num_gpus % self.nodes):
            raise InputError(
                "nodes", f"must be at least 1 and divide num_gpus={self.num_gpus} evenly", self.nodes
            )

    def shape(self, node_gpus: int) -> Shape:
        """The gang shape on nodes of ``node_gpus`` GPUs; raises :class:`InputError` when it cannot fit."""
        if node_gpus < 1:
            raise InputError("gpu_type", "the cluster has no nodes with GPUs of this type", self.gpu_type)
        if self.nodes is not None:
            per = self.num_gpus // self.nodes
            if per > node_gpus:
                raise InputError(
                    "num_gpus",
                    f"{per} GPUs per node exceed the largest node ({node_gpus} GPUs)",
                    self.num_gpus,
                )
            return Shape(self.nodes, per)
        if self.num_gpus <= node_gpus:
            return Shape(1, self.num_gpus)
        n = -(-self.num_gpus // node_gpus)
        if self.num_gpus % n:
            raise InputError(
                "num_gpus",
                f"cannot be spread evenly over whole {node_gpus}-GPU nodes; "
                f"ask for a multiple of {node_gpus} or give nodes",
                self.num_gpus,
            )
        return Shape(n, self.num_gpus // n)
