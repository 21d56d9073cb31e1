"""The no-op executor: runs nothing; a job "succeeds" a fixed delay after launch, timed by an injected clock.

For benchmarks of the scheduler and control loop without processes. State lives in the :class:`Handle`
(the launch time), so a new instance after a restart reports the same jobs the same way, given the same clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gpucloud.service.executors.base import ExitStatus, Handle, LaunchSpec


class NoopExecutor:
    name: str = "noop"
    #: Launching starts nothing, so the loop keeps no launch journal for it: after a restart an ``admitted`` job
    #: simply goes back to the queue (see ``control/recovery.py``).
    side_effects: bool = False

    def __init__(self, delay_s: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        self.delay_s = delay_s
        self.clock = clock
        self._stopped: dict[str, ExitStatus] = {}

    def launch(self, spec: LaunchSpec) -> Handle:
        return Handle(self.name, spec.job_id, {"launched": self.clock(), "delay": self.delay_s})

    def poll(self, handle: Handle) -> ExitStatus | None:
        stopped = self._stopped.get(handle.job_id)
        if stopped is not None:
            return stopped
        launched = float(handle.data["launched"])
        delay = float(handle.data.get("delay", self.delay_s))
        return ExitStatus(0, "exit code 0") if self.clock() - launched >= delay else None

    def terminate(self, handle: Handle) -> None:
        self._stopped.setdefault(handle.job_id, ExitStatus(143, "killed by signal 15 (SIGTERM)"))

    def kill(self, handle: Handle) -> None:
        self._stopped.setdefault(handle.job_id, ExitStatus(137, "killed by signal 9 (SIGKILL)"))

    def reattach(self, handle: Handle) -> bool:
        return True
