"""The no-op executor: success after a delay on an injected clock; terminate/kill end it at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpucloud.service.executors.base import ExitStatus, LaunchSpec, NodeGpus
from gpucloud.service.executors.noop import NoopExecutor


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def a_spec(job_id: str = "j1") -> LaunchSpec:
    return LaunchSpec(job_id, ("true",), "/", {}, (NodeGpus("n", 0, (0,)),), Path("/nonexistent"))


def test_succeeds_after_the_delay() -> None:
    clock = FakeClock()
    ex = NoopExecutor(delay_s=2.0, clock=clock)
    h = ex.launch(a_spec())
    assert ex.poll(h) is None
    clock.now += 1.9
    assert ex.poll(h) is None
    clock.now += 0.1
    assert ex.poll(h) == ExitStatus(0, "exit code 0")
    assert NoopExecutor(clock=clock).reattach(h)
    assert NoopExecutor(delay_s=99, clock=clock).poll(h) is not None  # the delay travels in the handle


def test_zero_delay_is_done_at_once_and_signals_end_it() -> None:
    clock = FakeClock()
    assert NoopExecutor(clock=clock).poll(NoopExecutor(clock=clock).launch(a_spec())) == ExitStatus(0, "exit code 0")
    ex = NoopExecutor(delay_s=10, clock=clock)
    h1, h2 = ex.launch(a_spec("a")), ex.launch(a_spec("b"))
    ex.terminate(h1)
    ex.kill(h2)
    assert ex.poll(h1) == ExitStatus(143, "killed by signal 15 (SIGTERM)")
    assert ex.poll(h2) == ExitStatus(137, "killed by signal 9 (SIGKILL)")


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="delay_s"):
        NoopExecutor(delay_s=-1)
