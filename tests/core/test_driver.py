"""The cycle driver (``gpucloud.core.driver``): the one object that owns the scheduling core across cycles for
the simulator and the live control loop.

* The link between a job being preempted and the job it is preempted for is data both ways: the driver's input
  takes it as :attr:`RunningJob.preempted_for`, its output names victim and beneficiary in each
  :class:`Preemption` (and the booking, for a reservation's victim).
* The end-of-walltime and grace rule: :meth:`Driver.signals` says when to send SIGTERM (walltime reached,
  preempted, cancelled) and SIGKILL (a grace period later).
* Everything the driver keeps across cycles can be exported as plain data and restored; a restored driver
  decides as the one that lived through the history.
"""

from __future__ import annotations

from dataclasses import astuple

import pytest

from gpucloud.core.bookings import Booking
from gpucloud.core.driver import Driver, DriverState, Signal, SignalKind
from gpucloud.core.lifetime import StopKind
from gpucloud.core.types import PendingJob, Placement, RunningJob, WaitReason
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.job import JobSpec

GT = "H100-80GB"


def spec(jid: str, gpus: int, walltime: float, **kw: object) -> JobSpec:
    return JobSpec(jid, kw.pop("org", "a"), gpus, kw.pop("at", 0.0), walltime, **kw)  # type: ignore[arg-type]


def test_a_restored_preemption_link_keeps_the_preemptor_waiting_without_preempting_again() -> None:
    """"low" is being preempted for "high" (the caller stored that as data). A driver built from that state
    does not look for victims again: "high" waits for "low" to stop, and its GPUs are held for it."""
    d = Driver(parse_inline("1x8"), policy="fifo")
    d.restore_running(RunningJob(spec("low", 8, 1000.0), Placement(GT, ((0, tuple(range(8))),)), 0.0,
                                 preempting=True, stop_at=10.0, preempted_for="high"))
    d.submit(PendingJob(spec("high", 8, 100.0, priority=10, at=10.0)))
    r = d.cycle(12.0, explain=True)
    assert r.preemptions == [] and r.admissions == []
    assert r.waiting["high"] == WaitReason.PREEMPTING
    d.requeue("low", 15.0)
    assert [a.job_id for a in d.cycle(15.0).admissions] == ["high"]


def test_preemptions_name_victim_beneficiary_and_booking_as_data() -> None:
    d = Driver(parse_inline("2x8"), policy="fifo")
    d.set_bookings([Booking("r1", "uni", GT, (1,), 100.0, 200.0)])
    d.restore_running(RunningJob(spec("low", 8, 1000.0), Placement(GT, ((0, tuple(range(8))),)), 0.0))
    d.restore_running(RunningJob(spec("late", 8, 1000.0), Placement(GT, ((1, tuple(range(8))),)), 0.0))
    d.submit(PendingJob(spec("high", 8, 50.0, priority=10, at=100.0)))
    r = d.cycle(100.0)
    by_victim = {p.job_id: p for p in r.preemptions}
    assert set(by_victim) == {"low", "late"}
    assert (by_victim["low"].for_job, by_victim["low"].booking) == ("high", None)
    assert by_victim["late"].booking == "r1"
    state = {j.id: j for j in d.export().running}
    assert (state["low"].preempted_for, state["low"].stop_at) == ("high", 100.0)
    assert (state["late"].preempted_for, state["late"].stop_at) == (None, 100.0)


def test_signals_follow_the_walltime_and_grace_rule() -> None:
    d = Driver(parse_inline("1x8"), policy="fifo")
    d.submit(PendingJob(spec("w", 2, 100.0, grace=30.0)))            # runs past its walltime
    d.submit(PendingJob(spec("c", 4, 1000.0, grace=5.0)))            # cancelled at t=60
    assert len(d.cycle(0.0).admissions) == 2
    d.submit(PendingJob(spec("q", 2, 1000.0, at=1.0)))               # the newest: preempted at t=50
    assert len(d.cycle(1.0).admissions) == 1
    assert d.signals(40.0) == []
    d.submit(PendingJob(spec("hi", 2, 10.0, priority=10, at=50.0)))
    (pre,) = d.cycle(50.0).preemptions
    assert (pre.job_id, pre.for_job) == ("q", "hi")
    # grace 0: SIGTERM and SIGKILL are both due at once
    assert d.signals(50.0) == [Signal("q", SignalKind.TERM, StopKind.PREEMPT),
                               Signal("q", SignalKind.KILL, StopKind.PREEMPT)]
    assert d.cancel("c", 60.0) is False  # running: stopped, not dropped
    assert d.signals(60.0) == [Signal("c", SignalKind.TERM, StopKind.CANCEL)]
    assert d.signals(64.0) == []
    assert d.signals(65.0) == [Signal("c", SignalKind.KILL, StopKind.CANCEL)]
    assert d.signals(100.0) == [Signal("w", SignalKind.TERM, StopKind.WALLTIME)]
    assert d.signals(129.0) == []
    assert d.signals(130.0) == [Signal("w", SignalKind.KILL, StopKind.WALLTIME)]
    assert d.signals(500.0) == []  # each signal once
    assert d.cancel("hi", 500.0) is True  # pending: dropped at once


def test_time_never_goes_back() -> None:
    d = Driver(parse_inline("1x8"), policy="fifo")
    d.submit(PendingJob(spec("a", 8, 100.0)))
    d.cycle(10.0)
    assert d.now == 10.0
    d.cycle(5.0)  # a clock that stepped back is held at the last time seen
    assert d.now == 10.0
    assert d.export().running[0].start == 10.0


@pytest.mark.parametrize("policy", ["fifo", "backfill", "fairshare", "las", "srtf"])
def test_a_restored_driver_decides_like_the_one_that_lived_through_the_history(policy: str) -> None:
    """Run a few cycles, export, restore into a fresh driver, and run the same next cycle on both."""
    def history() -> Driver:
        d = Driver(parse_inline("2x8"), policy=policy)
        for i in range(6):
            d.submit(PendingJob(spec(f"j{i}", 4 + 4 * (i % 2), 300.0 + 100 * i, org="ab"[i % 2], at=10.0 * i,
                                     priority=10 if i == 4 else 0)))
            d.cycle(10.0 * i)
        d.finished("j0", 70.0)
        return d

    lived = history()
    restored = Driver.restore(parse_inline("2x8"), None, policy, None, lived.export())
    a, b = lived.cycle(80.0, explain=True), restored.cycle(80.0, explain=True)
    assert (a.admissions, a.preemptions, a.waiting, a.order) == (b.admissions, b.preemptions, b.waiting, b.order)
    assert plain(lived.export()) == plain(restored.export())


def plain(state: DriverState) -> tuple[object, ...]:
    """A driver's state as comparable values (jobs are equal only to themselves)."""
    return (tuple(astuple(j) for j in state.pending), tuple(astuple(r) for r in state.running), state.usage,
            state.ended, state.bookings, state.down, state.now)
