"""Scheduling policies, registered by name in :data:`POLICIES`."""

from gpucloud.core.policies import backfill, fairshare, fifo, las, srtf  # noqa: F401  (registration)
from gpucloud.core.policies.base import POLICIES, Mode, Policy

__all__ = ["POLICIES", "Mode", "Policy"]
