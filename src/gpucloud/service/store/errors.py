"""Errors of store operations that the API maps to HTTP statuses (404, 409)."""

from __future__ import annotations

from gpucloud.errors import GpucloudError


class NotFound(GpucloudError):
    """No such thing, or none that the caller may see (the two are deliberately indistinguishable)."""

    def __init__(self, kind: str, name: object) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"{kind} {name!r} not found")


class Conflict(GpucloudError):
    """The request clashes with the current state (a duplicate name, a job that already ended)."""
