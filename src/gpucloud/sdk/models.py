"""What the SDK's typed calls return: light, frozen dataclasses read from the server's JSON.

Each keeps the server's whole document in ``raw`` (fields added to the API later are there before they are
here), and ``from_json`` ignores keys it does not know, so a newer server does not break an older client.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, TypeVar

#: The states a job ends in.
TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "timed_out"})

T = TypeVar("T")


def _known(cls: type[T], doc: dict[str, Any], **converted: Any) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in doc.items() if k in names and k not in converted}, **converted)


@dataclass(frozen=True, slots=True)
class Placement:
    """The GPUs a job holds on one node."""

    node: str
    gpus: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One state change: when, from which state to which, and why."""

    at: float
    from_state: str | None
    to_state: str
    reason: str


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the server reports it. ``events`` is filled by :meth:`Client.job` and :meth:`Client.wait` (every
    state change), empty in lists; ``created`` is False when a submit returned an earlier job with the same
    idempotency key."""

    id: int
    name: str
    org: str
    project: str
    user: str
    argv: tuple[str, ...]
    state: str
    reason: str
    num_gpus: int
    nodes: int | None = None
    gpu_type: str | None = None
    assigned_gpu_type: str | None = None
    walltime_s: float = 0.0
    priority: str = "normal"
    preemptible: bool = True
    grace_s: float = 0.0
    service_class: str = "standard"
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""
    cancel_requested: bool = False
    submitted_at: float = 0.0
    queued_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    placement: tuple[Placement, ...] = ()
    run_count: int = 0
    preemptions: int = 0
    reservation_id: int | None = None
    array_job_id: int | None = None
    array_task_id: int | None = None
    array_throttle: int | None = None
    dependency: str | None = None
    estimated_cost: str | None = None
    final_cost: str | None = None
    events: tuple[JobEvent, ...] = ()
    created: bool = True
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """Whether the job has ended (succeeded, failed, cancelled or timed out)."""
        return self.state in TERMINAL_STATES

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Job:
        return _known(
            cls, doc, argv=tuple(doc["argv"]), env=dict(doc.get("env") or {}),
            placement=tuple(Placement(p["node"], tuple(p["gpus"])) for p in doc.get("placement") or ()),
            events=tuple(_known(JobEvent, e) for e in doc.get("events") or ()), raw=doc,
        )


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A pending job and its position in the whole queue (1 is next)."""

    position: int
    job: Job


@dataclass(frozen=True, slots=True)
class Queue:
    """The pending jobs the caller may see, in scheduling order; ``total_pending`` counts the whole queue."""

    items: tuple[QueueEntry, ...]
    total_pending: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Queue:
        return cls(tuple(QueueEntry(e["position"], Job.from_json(e["job"])) for e in doc["items"]),
                   doc["total_pending"], doc)


@dataclass(frozen=True, slots=True)
class UsageRow:
    """A month's usage of one org × project (× user) × GPU type; points are exact decimals."""

    month: str
    org: str
    project: str
    gpu_type: str
    runs: int
    gpu_hours: Decimal
    points: Decimal
    subsidy: Decimal
    charged: Decimal
    user: str = ""

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> UsageRow:
        return _known(cls, doc, **{k: Decimal(doc[k]) for k in ("gpu_hours", "points", "subsidy", "charged")})


@dataclass(frozen=True, slots=True)
class Cancelled:
    """What :meth:`Client.cancel_many` did: pending jobs cancelled, running ones asked to stop, named jobs that had
    already ended, and references that match no job you may see."""

    cancelled: tuple[int, ...]
    requested: tuple[int, ...]
    ended: tuple[int, ...]
    not_found: tuple[str, ...]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Cancelled:
        return cls(tuple(doc["cancelled"]), tuple(doc["requested"]), tuple(doc["ended"]), tuple(doc["not_found"]))
