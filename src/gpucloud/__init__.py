"""gpucloud: the open control plane that runs a GPU supercomputer as a shared AI cloud.

The Python SDK is here: ``gpucloud.Client`` (sync), ``gpucloud.AsyncClient``, the models they return (``Job``,
``Queue``, ...) and their errors (``ApiError``, ``WaitTimeout``, ``NotLoggedIn``). They are imported on first use,
so ``import gpucloud`` (and every CLI command) stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

    from gpucloud.sdk.aio import AsyncClient
    from gpucloud.sdk.client import Client
    from gpucloud.sdk.errors import ApiError, NotLoggedIn, WaitTimeout
    from gpucloud.sdk.models import Cancelled, Job, JobEvent, Placement, Queue, QueueEntry, UsageRow

#: Public name → the module that defines it.
_EXPORTS = {
    "Client": "gpucloud.sdk.client", "AsyncClient": "gpucloud.sdk.aio",
    "ApiError": "gpucloud.sdk.errors", "NotLoggedIn": "gpucloud.sdk.errors", "WaitTimeout": "gpucloud.sdk.errors",
    "Job": "gpucloud.sdk.models", "JobEvent": "gpucloud.sdk.models", "Placement": "gpucloud.sdk.models",
    "Queue": "gpucloud.sdk.models", "QueueEntry": "gpucloud.sdk.models", "UsageRow": "gpucloud.sdk.models",
    "Cancelled": "gpucloud.sdk.models",
}

__all__ = ["ApiError", "AsyncClient", "Cancelled", "Client", "Job", "JobEvent", "NotLoggedIn", "Placement", "Queue",
           "QueueEntry", "UsageRow", "WaitTimeout", "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gpucloud' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)
