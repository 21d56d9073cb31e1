"""The executor interface: launch, watch, signal, re-attach and read the logs of a job's ranks, on one host or many.

The control loop (``service/control/``) talks to every executor through :class:`Executor`, and never waits on a
host: :meth:`Executor.launch` only starts the work, and everything that happened since the last tick comes back in
one batched :meth:`Executor.collect`. See ``docs/executors.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

#: A JSON value stored in a handle.
HandleValue = str | int | float


@dataclass(frozen=True, slots=True)
class NodeGpus:
    """The GPUs a job got on one node: the cluster's node name, its rank in the gang, and GPU indices."""

    node: str
    rank: int
    gpus: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """One launch attempt of one job. ``attempt`` is the job's run number (1 for the first run, +1 per requeue):
    the hosts record each rank under (job, attempt), so a new leader can tell whether an attempt was started.
    ``account``: the OS account the ranks run as (``None``: the executor's own account)."""

    job_id: str
    attempt: int
    argv: tuple[str, ...]
    cwd: str
    env: dict[str, str]
    placement: tuple[NodeGpus, ...]
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Handle:
    """What is stored in the database to find a job's ranks again after a restart (JSON values only).

    ``data`` holds ``world``, ``attempt``, and per rank ``node.<r>`` and ``host.<r>`` (which host holds rank r)
    plus whatever the executor needs to recognise the rank's processes (pids and start times)."""

    executor: str
    job_id: str
    data: dict[str, HandleValue] = field(default_factory=dict)

    @property
    def world(self) -> int:
        return int(self.data.get("world", 1))

    @property
    def attempt(self) -> int:
        return int(self.data.get("attempt", 1))

    def node(self, rank: int) -> str:
        return str(self.data.get(f"node.{rank}", "?"))

    def host(self, rank: int) -> str:
        return str(self.data.get(f"host.{rank}", "?"))


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a rank (or a whole job) ended: ``exit_code`` 0 is success, ``None`` unknown; ``reason`` is readable;
    ``at`` the host's wall-clock time of the end when known; ``lost``: the host itself is gone (a node failure,
    not the job's fault: a preemptible job goes back to the queue)."""

    exit_code: int | None
    reason: str = ""
    at: float | None = None
    lost: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True, slots=True)
class RankExit:
    """Rank ``rank`` of job ``job_id`` ended with ``status``."""

    job_id: str
    rank: int
    status: ExitStatus


@dataclass(frozen=True, slots=True)
class LogCursor:
    """Where the database's copy of one rank's stream ends: the executor returns up to ``limit`` bytes from
    ``offset``."""

    job_id: str
    rank: int
    stream: str
    offset: int
    limit: int = 1 << 20


@dataclass(frozen=True, slots=True)
class LogPiece:
    """Bytes of a rank's stream starting at ``offset``. ``eof``: nothing more was there when read; ``final``: and
    the rank had already ended before the read (or its host is gone), so nothing more will ever come."""

    job_id: str
    rank: int
    stream: str
    offset: int
    data: bytes
    eof: bool = True
    final: bool = False


@dataclass
class Report:
    """What happened since the last :meth:`Executor.collect`."""

    #: launches that completed: job id → its handle
    launched: dict[str, Handle] = field(default_factory=dict)
    #: launches that failed, nothing left running: job id → the reason
    launch_failed: dict[str, str] = field(default_factory=dict)
    #: ranks of watched jobs that ended
    exits: list[RankExit] = field(default_factory=list)
    #: log bytes asked for with ``logs=`` (and all that is left of jobs whose ranks all ended)
    logs: list[LogPiece] = field(default_factory=list)
    #: cluster nodes whose host is gone: node → why (its ranks are reported lost)
    nodes_down: dict[str, str] = field(default_factory=dict)
    #: cluster nodes whose host is back
    nodes_up: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Found:
    """What the hosts know of one launch attempt (recovery of an ``admitted`` job): ``handle`` if every rank was
    started (some may have ended since), ``None`` if no rank was; ``partial`` names the ranks started when only some
    were (the caller stops them)."""

    handle: Handle | None
    partial: Handle | None = None


class LaunchError(Exception):
    """The job could not be started (e.g. its program does not exist); the message says why."""


class Executor(Protocol):
    """What the control loop needs of an executor; see ``docs/executors.md`` for the contract of each call."""

    name: str
    #: False when launching twice starts nothing (the no-op executor): no host records are needed to recover
    side_effects: bool

    def bind(self, notify: Callable[[], None], epoch: int, installation: str = "") -> None:
        """Start serving a loop of ``installation`` (one database) that leads with ``epoch``: its hosts refuse
        launches of older epochs of that installation from now on; ``notify`` is called (from any thread) when a
        :meth:`collect` would return something new."""
        ...

    def launch(self, spec: LaunchSpec) -> None:
        """Start launching (never blocks on a host); the handle or the failure comes back in a later report."""
        ...

    def collect(self, watched: Mapping[str, Handle], logs: Sequence[LogCursor] = ()) -> Report:
        """Everything new since the last call: finished launches, ranks of ``watched`` jobs that ended (each
        reported once per :meth:`bind`; a rank whose processes are gone without a record is reported as
        ``process vanished``), the log bytes after each cursor in ``logs``, and hosts that went or came back.
        Never blocks on a host."""
        ...

    def signal(self, handle: Handle, sig: int) -> None:
        """Send ``sig`` to every rank's process group (SIGTERM to stop, SIGKILL to stop now); never blocks."""
        ...

    def find(self, job_id: str, attempt: int, nodes: Sequence[str]) -> Found:
        """After a restart or failover: was this launch attempt started on its hosts (ranks in ``nodes`` order)?
        Blocks (recovery only)."""
        ...

    def close(self) -> None:
        """Stop serving (launches in flight are finished or given up); jobs keep running."""
        ...
