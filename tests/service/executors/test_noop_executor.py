"""The no-op executor: success after a delay on an injected clock, reported in batches; signals end it at once."""

from __future__ import annotations

import signal

import pytest

from gpucloud.service.executors.base import Handle, LaunchSpec, NodeGpus
from gpucloud.service.executors.noop import NoopExecutor


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def a_spec(job_id: str = "j1", ranks: int = 1) -> LaunchSpec:
    return LaunchSpec(job_id, 1, ("true",), "/", {}, tuple(NodeGpus(f"n{r}", r, (0,)) for r in range(ranks)))


def launched(ex: NoopExecutor, *specs: LaunchSpec) -> dict[str, Handle]:
    for s in specs:
        ex.launch(s)
    return ex.collect({}).launched


def test_succeeds_after_the_delay_every_rank() -> None:
    clock = FakeClock()
    ex = NoopExecutor(delay_s=2.0, clock=clock)
    ex.bind(lambda: None, 1)
    h = launched(ex, a_spec(ranks=2))["j1"]
    assert not ex.collect({"j1": h}).exits
    clock.now += 1.9
    assert not ex.collect({"j1": h}).exits
    clock.now += 0.1
    assert [(e.rank, e.status.exit_code) for e in ex.collect({"j1": h}).exits] == [(0, 0), (1, 0)]
    assert not ex.collect({"j1": h}).exits  # reported once
    restarted = NoopExecutor(delay_s=99, clock=clock)  # the delay travels in the handle
    restarted.bind(lambda: None, 2)
    assert [e.status.exit_code for e in restarted.collect({"j1": h}).exits] == [0, 0]


def test_a_batch_reports_only_what_ended() -> None:
    clock = FakeClock()
    ex = NoopExecutor(delay_s=10, clock=clock)
    ex.bind(lambda: None, 1)
    handles = launched(ex, *(a_spec(str(i)) for i in range(100)))
    assert not ex.collect(handles).exits
    clock.now += 10
    assert sorted(int(e.job_id) for e in ex.collect(handles).exits) == list(range(100))


def test_signals_end_it_at_once() -> None:
    clock = FakeClock()
    ex = NoopExecutor(delay_s=10, clock=clock)
    ex.bind(lambda: None, 1)
    handles = launched(ex, a_spec("a"), a_spec("b"))
    ex.signal(handles["a"], signal.SIGTERM)
    ex.signal(handles["b"], signal.SIGKILL)
    got = {e.job_id: (e.status.exit_code, e.status.reason) for e in ex.collect(handles).exits}
    assert got == {"a": (143, "killed by signal 15 (SIGTERM)"), "b": (137, "killed by signal 9 (SIGKILL)")}


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="delay_s"):
        NoopExecutor(delay_s=-1)


def test_a_job_runs_the_seconds_its_environment_names_and_may_checkpoint_until_sigkill() -> None:
    clock = FakeClock()
    ex = NoopExecutor(delay_s=100, clock=clock, term_ends=False)
    ex.bind(lambda: None, 1)
    spec = LaunchSpec("t", 1, ("true",), "/", {"GPUCLOUD_NOOP_SECONDS": "30"}, (NodeGpus("n0", 0, (0,)),))
    handles = launched(ex, spec, a_spec("u"))
    clock.now += 30
    assert [e.job_id for e in ex.collect(handles).exits] == ["t"]  # 30 s, not the default 100
    ex.signal(handles["u"], signal.SIGTERM)
    assert not ex.collect(handles).exits  # SIGTERM: it uses its grace period
    ex.signal(handles["u"], signal.SIGKILL)
    assert [(e.job_id, e.status.exit_code) for e in ex.collect(handles).exits] == [("u", 137)]
