"""The executor interface: launch, watch, signal and re-attach a job's processes, on one machine or many."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class NodeGpus:
    """The GPUs a job got on one node: the cluster's node name, its rank in the gang, and GPU indices."""

    node: str
    rank: int
    gpus: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    job_id: str
    argv: tuple[str, ...]
    cwd: str
    env: dict[str, str]
    placement: tuple[NodeGpus, ...]
    log_dir: Path


@dataclass(frozen=True, slots=True)
class Handle:
    """What is stored in the database to find a job's processes again after a restart (JSON-able values)."""

    executor: str
    job_id: str
    data: dict[str, str | int | float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a job's processes ended: ``exit_code`` 0 is success; ``reason`` a human-readable cause."""

    exit_code: int | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class LaunchError(Exception):
    """The job could not be started (e.g. its program does not exist); the message says why."""


class Executor(Protocol):
    """What the control loop needs of an executor. Optional extras, found with ``getattr``: ``side_effects``
    (False: launching twice starts nothing, so no launch journal), ``parallel_launch`` (True: ``launch`` may run in
    several threads at once), ``on_exit(callback)`` (call ``callback`` from any thread soon after a job's processes
    may have ended: the loop then polls at once instead of at its next tick)."""

    name: str

    def launch(self, spec: LaunchSpec) -> Handle: ...

    def poll(self, handle: Handle) -> ExitStatus | None:
        """``None`` while any of the job's processes runs, else how it ended."""
        ...

    def terminate(self, handle: Handle) -> None:
        """Ask the job to stop (SIGTERM to every process group of the job)."""
        ...

    def kill(self, handle: Handle) -> None:
        """Stop the job now (SIGKILL)."""
        ...

    def reattach(self, handle: Handle) -> bool:
        """After a server restart: True if the job's processes are still the ones launched (pid + start time)."""
        ...
