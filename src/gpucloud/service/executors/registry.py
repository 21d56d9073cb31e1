"""The executor registry: executors by name ("local", "noop", "ray"); an unknown name gets a "did you mean"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpucloud.registry import Registry
from gpucloud.service.executors.base import Executor
from gpucloud.service.executors.local import LocalExecutor
from gpucloud.service.executors.noop import NoopExecutor

ExecutorFactory = Callable[..., Executor]

EXECUTORS: Registry[ExecutorFactory] = Registry("executor")
EXECUTORS.register("local")(LocalExecutor)
EXECUTORS.register("noop")(NoopExecutor)


@EXECUTORS.register("ray")
def _ray(**options: Any) -> Executor:
    """The Ray executor, imported only when asked for (Ray is the optional ``[ray]`` extra)."""
    from gpucloud.service.executors.ray_executor import RayExecutor

    return RayExecutor(**options)


DEFAULT_EXECUTOR = "local"


def create_executor(name: str = DEFAULT_EXECUTOR, **options: Any) -> Executor:
    """Build the executor registered as ``name`` with its keyword ``options`` (e.g. ``delay_s`` for noop).

    Raises :class:`gpucloud.errors.UnknownNameError` (with suggestions) for an unknown name.
    """
    return EXECUTORS.get(name)(**options)


def executor_names() -> list[str]:
    return EXECUTORS.names()
