"""``backfill``: EASY backfill. Queue order is FIFO; the first job that does not fit gets a reservation at
the earliest time it can start (from the walltimes and grace periods of running jobs), and later jobs may start
now only if they do not delay it (see ``gpucloud.core.reservation``)."""

from __future__ import annotations

from gpucloud.core.policies.base import POLICIES, Mode
from gpucloud.core.policies.fifo import SubmitOrderQueue


@POLICIES.register("backfill")
class Backfill(SubmitOrderQueue):
    name = "backfill"
    mode = Mode.BACKFILL
