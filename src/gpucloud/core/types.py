"""The core's inputs and outputs: pending and running jobs, placements, and a cycle's decisions."""

from __future__ import annotations

from dataclasses import dataclass, field

from gpucloud.core.free_index import to_mask
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec


@dataclass(frozen=True, slots=True)
class Placement:
    """Which GPUs a job holds: ``((node_index, (gpu, ...)), ...)`` with nodes in ascending order."""

    gpu_type: str
    nodes: tuple[tuple[int, tuple[int, ...]], ...]
    gpus: int = field(init=False, compare=False)
    #: ``((node_index, bitmask of its GPUs), ...)``: what the free index takes and gives
    masks: tuple[tuple[int, int], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.nodes) == 1:  # the common case, kept cheap: placements are made on every admission
            node, gs = self.nodes[0]
            object.__setattr__(self, "gpus", len(gs))
            object.__setattr__(self, "masks", ((node, to_mask(gs)),))
        else:
            object.__setattr__(self, "gpus", sum(len(g) for _, g in self.nodes))
            object.__setattr__(self, "masks", tuple((n, to_mask(gs)) for n, gs in self.nodes))

    def racks(self, cluster: Cluster) -> int:
        return len({cluster.nodes[n].rack for n, _ in self.nodes})

    def blocks(self, cluster: Cluster) -> int:
        return len({cluster.nodes[n].block for n, _ in self.nodes})

    def labels(self, cluster: Cluster) -> list[str]:
        """``node/gpu`` ids, e.g. ``['b0-r0-n0/0', 'b0-r0-n0/1']``."""
        return [cluster.gpu_label(n, g) for n, gs in self.nodes for g in gs]


@dataclass(slots=True)
class PendingJob:
    """A job waiting in the queue.

    ``attained`` is the GPU-seconds of service it already had (LAS); ``remaining`` the run time it still needs
    when known (the simulator's oracle for ``srtf``; ``None`` means "use the walltime"); ``queued_since`` when
    it (re)entered the queue.
    """

    spec: JobSpec
    attained: float = 0.0
    remaining: float | None = None
    queued_since: float | None = None

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(slots=True)
class RunningJob:
    """A job holding GPUs since ``start`` (the start of its current run segment)."""

    spec: JobSpec
    placement: Placement
    start: float
    attained_before: float = 0.0
    remaining: float | None = None
    preempting: bool = False

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def expected_end(self) -> float:
        """When it ends at the latest: its walltime limit counts from the segment start."""
        return self.start + self.spec.walltime

    def attained(self, now: float) -> float:
        return self.attained_before + self.placement.gpus * max(0.0, now - self.start)

    def remaining_at(self, now: float) -> float:
        base = self.spec.walltime if self.remaining is None else self.remaining
        return max(0.0, base - (now - self.start))


@dataclass(frozen=True, slots=True)
class Admission:
    job_id: str
    placement: Placement


@dataclass(frozen=True, slots=True)
class Preemption:
    """Stop ``job_id`` (after its grace period) so that ``for_job`` can run; ``reason`` says which rule."""

    job_id: str
    for_job: str
    reason: str


class WaitReason:
    """Why a pending job did not start in a cycle (shown to users)."""

    NO_FIT = "no fitting nodes"
    QUOTA = "quota"
    BLOCKED = "behind the head job"
    RESERVED = "would delay the head job's reservation"
    PREEMPTING = "waiting for preempted jobs to stop"
    UNSCHEDULABLE = "no node in the cluster can ever fit it"
    #: the job's project cannot cover the hold of its walltime (set by the service when budgets are on)
    BUDGET = "budget"
    #: the job names a reservation whose window is not open (or that it would outlast)
    RESERVATION = "reservation"


@dataclass(slots=True)
class CycleResult:
    """Decisions of one scheduling cycle."""

    admissions: list[Admission] = field(default_factory=list)
    preemptions: list[Preemption] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    head_reservation: tuple[str, float] | None = None
    wake_at: float | None = None
