"""The core's inputs and outputs: pending and running jobs, placements, and a cycle's decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gpucloud.core import lifetime
from gpucloud.core.free_index import to_mask
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec

if TYPE_CHECKING:
    from gpucloud.core.services import ReplicaChange


class Placement:
    """Which GPUs a job holds: ``((node_index, (gpu, ...)), ...)`` with nodes in ascending order.

    Immutable; equal (and hashed) by GPU type and GPUs. ``gpus`` counts the GPUs; ``masks`` is
    ``((node_index, bitmask of its GPUs), ...)``, what the free index takes and gives. (A plain class rather
    than a dataclass: a replay makes one per admission.)
    """

    __slots__ = ("gpu_type", "gpus", "masks", "nodes")

    gpu_type: str
    nodes: tuple[tuple[int, tuple[int, ...]], ...]
    gpus: int
    masks: tuple[tuple[int, int], ...]

    def __init__(self, gpu_type: str, nodes: tuple[tuple[int, tuple[int, ...]], ...]) -> None:
        set_ = object.__setattr__
        set_(self, "gpu_type", gpu_type)
        set_(self, "nodes", nodes)
        if len(nodes) == 1:  # the common case, kept cheap
            node, gs = nodes[0]
            set_(self, "gpus", len(gs))
            set_(self, "masks", ((node, to_mask(gs)),))
        else:
            set_(self, "gpus", sum(len(g) for _, g in nodes))
            set_(self, "masks", tuple((n, to_mask(gs)) for n, gs in nodes))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Placement is immutable (tried to set {name})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Placement):
            return NotImplemented
        return self.gpu_type == other.gpu_type and self.nodes == other.nodes

    def __hash__(self) -> int:
        return hash((self.gpu_type, self.nodes))

    def __repr__(self) -> str:
        return f"Placement(gpu_type={self.gpu_type!r}, nodes={self.nodes!r})"

    def __reduce__(self) -> tuple[type[Placement], tuple[str, tuple[tuple[int, tuple[int, ...]], ...]]]:
        return (Placement, (self.gpu_type, self.nodes))

    def racks(self, cluster: Cluster) -> int:
        return len({cluster.nodes[n].rack for n, _ in self.nodes})

    def blocks(self, cluster: Cluster) -> int:
        return len({cluster.nodes[n].block for n, _ in self.nodes})

    def labels(self, cluster: Cluster) -> list[str]:
        """``node/gpu`` ids, e.g. ``['b0-r0-n0/0', 'b0-r0-n0/1']``."""
        return [cluster.gpu_label(n, g) for n, gs in self.nodes for g in gs]


@dataclass(slots=True, eq=False)
class PendingJob:
    """A job waiting in the queue (equal only to itself: the queues remove it by identity).

    ``attained`` is the GPU-seconds of service it already had (LAS); ``remaining`` the run time it still needs
    when known (the simulator's oracle for ``srtf``; ``None`` means "use the walltime"); ``queued_since`` when
    it (re)entered the queue; ``seq`` its submission sequence number, the last tie-break of every queue order
    (``None``: the scheduler numbers jobs in the order it first sees them; the live service passes its job id,
    so that a scheduler rebuilt from the database orders ties as the one before it).
    """

    spec: JobSpec
    attained: float = 0.0
    remaining: float | None = None
    queued_since: float | None = None
    seq: int | None = None

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(slots=True, eq=False)
class RunningJob:
    """A job holding GPUs since ``start`` (the start of its current run segment); equal only to itself.

    ``stop_at`` is when it was told to stop (SIGTERM: preempted, cancelled, or its walltime reached), None while
    it was not; ``preempting`` whether that stop is a preemption, and ``preempted_for`` the pending job it is
    preempted for (None for a booking's victim). ``cancel_requested``: its owner asked to cancel it.
    """

    spec: JobSpec
    placement: Placement
    start: float
    attained_before: float = 0.0
    remaining: float | None = None
    preempting: bool = False
    stop_at: float | None = None
    preempted_for: str | None = None
    cancel_requested: bool = False
    seq: int | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def held_until(self) -> float:
        """The latest it may hold its GPUs: its stop (or walltime end) plus its grace period
        (:func:`gpucloud.core.lifetime.held_until`)."""
        return lifetime.held_until(self)

    def attained(self, now: float) -> float:
        return self.attained_before + self.placement.gpus * max(0.0, now - self.start)

    def remaining_at(self, now: float) -> float:
        base = self.spec.walltime if self.remaining is None else self.remaining
        return max(0.0, base - (now - self.start))


@dataclass(frozen=True, slots=True)
class Admission:
    """Start ``job_id`` on ``placement``; ``attained`` is the attained service (GPU-seconds) the run starts from
    — the job's own, or 0 when LAS promoted it (the caller stores it with the run)."""

    job_id: str
    placement: Placement
    attained: float = 0.0


@dataclass(frozen=True, slots=True)
class Preemption:
    """Stop ``job_id`` (after its grace period) so that ``for_job`` can run; ``reason`` says which rule.

    For a victim of a booking (an advance reservation whose window opened on its nodes) ``booking`` names it
    and ``for_job`` is ``"reservation:<booking>"``; otherwise ``booking`` is None and ``for_job`` the pending
    job that waits for the victim (the link the caller keeps as :attr:`RunningJob.preempted_for`).
    """

    job_id: str
    for_job: str
    reason: str
    booking: str | None = None


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
    #: service replicas started and stopped in the cycle (:mod:`gpucloud.core.services`)
    replica_starts: list[ReplicaChange] = field(default_factory=list)
    replica_stops: list[ReplicaChange] = field(default_factory=list)
