"""Advance reservations (bookings) and down nodes in the scheduling core, on scenarios worked out by hand.

The cluster is ``parse_inline('4x8')``: nodes n0..n3 (indices 0..3) of 8 GPUs in one rack. Org ``uni`` books
n2 and n3 for the window [100, 200). The scheduler is driven cycle by cycle with an explicit ``now``.
"""

from __future__ import annotations

import pytest

from gpucloud.core.bookings import Booking, bookable, busy_until, choose_nodes
from gpucloud.core.scheduler import Scheduler
from gpucloud.core.types import PendingJob, Placement, RunningJob, WaitReason
from gpucloud.errors import InputError
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.job import JobSpec

GT = "H100-80GB"
BOOKED = Booking("r1", "uni", GT, (2, 3), 100.0, 200.0)


def job(jid: str, org: str, gpus: int, walltime: float, *, at: float = 0.0, **kw: object) -> PendingJob:
    return PendingJob(JobSpec(jid, org, gpus, at, walltime, **kw))  # type: ignore[arg-type]


def sched(policy: str = "backfill", bookings: tuple[Booking, ...] = (BOOKED,)) -> Scheduler:
    s = Scheduler(parse_inline("4x8"), policy=policy)
    s.set_bookings(bookings)
    return s


def nodes_of(s: Scheduler, jid: str) -> list[int]:
    return [n for n, _ in s.state.running[jid].placement.nodes]


@pytest.mark.parametrize("policy", ["fifo", "backfill", "fairshare", "las", "srtf"])
def test_booking_blocks_another_org_but_lets_short_jobs_backfill(policy: str) -> None:
    s = sched(policy)
    # At t=0: two 8-GPU jobs of org "co" that run to t=150 overlap the window: only n0 and n1 can take them.
    # A third identical job "c" must wait although n2 and n3 are idle. A 50 s job ends at 50 <= 100: it may
    # use a booked node, and is put there first (n0/n1 stay for jobs that need them) — except under fifo,
    # where it is stuck behind "c".
    for jid in ("a", "b", "c"):
        s.submit(job(jid, "co", 8, 150.0))
    s.submit(job("short", "co", 8, 50.0))
    r = s.cycle(0.0, explain=True)
    started = {a.job_id for a in r.admissions}
    if policy == "fifo":
        assert started == {"a", "b"}
        assert r.waiting["short"] == WaitReason.BLOCKED
    else:
        assert started == {"a", "b", "short"}
        assert nodes_of(s, "short") == [2]
    assert sorted(nodes_of(s, "a") + nodes_of(s, "b")) == [0, 1]
    assert r.waiting["c"] in (WaitReason.NO_FIT, WaitReason.RESERVED)
    # The index is whole again after the cycle: 32 GPUs − 3 × 8 running.
    assert s.state.index.type_free[GT] == 32 - 8 * len(started)
    # The next cycle wakes when the window opens.
    assert r.wake_at == 100.0


def test_named_job_waits_for_the_window_and_runs_only_on_booked_nodes() -> None:
    s = sched()
    s.submit(job("mine", "uni", 16, 100.0, reservation="r1"))       # 2 nodes × 8, ends 100 after its start
    s.submit(job("too-long", "uni", 8, 150.0, reservation="r1"))    # would outlast the window from t=100
    s.submit(job("wrong-org", "co", 8, 10.0, reservation="r1"))     # not uni's: never runs in it
    r = s.cycle(50.0, explain=True)
    assert r.admissions == []
    assert r.waiting["mine"] == WaitReason.RESERVATION
    r = s.cycle(100.0, explain=True)
    assert [a.job_id for a in r.admissions] == ["mine"]
    assert nodes_of(s, "mine") == [2, 3]
    assert r.waiting["too-long"] == WaitReason.RESERVATION
    assert r.waiting["wrong-org"] == WaitReason.RESERVATION


def test_in_window_others_stay_off_booked_nodes_until_it_ends() -> None:
    s = sched("fifo")
    for jid in ("a", "b", "c"):
        s.submit(job(jid, "co", 8, 1000.0, at=120.0))
    r = s.cycle(120.0)
    assert {a.job_id for a in r.admissions} == {"a", "b"}       # n2 and n3 are uni's until t=200
    assert r.wake_at == 200.0
    r = s.cycle(200.0)
    assert [a.job_id for a in r.admissions] == ["c"]
    assert nodes_of(s, "c")[0] in (2, 3)


def test_booking_of_another_org_is_not_usable_by_naming_it_and_unknown_booking_waits() -> None:
    s = sched()
    s.submit(job("x", "uni", 8, 10.0, reservation="nope"))
    r = s.cycle(150.0, explain=True)
    assert r.admissions == [] and r.waiting["x"] == WaitReason.RESERVATION


def test_named_jobs_start_even_when_fifo_queue_is_blocked() -> None:
    s = sched("fifo")
    s.submit(job("big", "co", 32, 100.0, at=0.0))        # can never start while n2/n3 are booked
    s.submit(job("mine", "uni", 8, 50.0, at=1.0, reservation="r1"))
    r = s.cycle(100.0, explain=True)
    assert [a.job_id for a in r.admissions] == ["mine"]
    assert r.waiting["big"] == WaitReason.NO_FIT


def test_jobs_on_booked_nodes_are_never_victims() -> None:
    s = sched("fifo")
    # "low" (priority 0) runs on n0 from before; "res" is uni's job inside the window on n2.
    s.restore_running(RunningJob(JobSpec("low", "co", 8, 0.0, 1000.0), Placement(GT, ((0, tuple(range(8))),)),
                                 0.0))
    s.restore_running(RunningJob(JobSpec("res", "uni", 8, 100.0, 50.0, reservation="r1"),
                                 Placement(GT, ((2, tuple(range(8))),)), 100.0))
    s.restore_running(RunningJob(JobSpec("mid", "co", 8, 0.0, 1000.0), Placement(GT, ((1, tuple(range(8))),)),
                                 0.0))
    # A high-priority 8-GPU job at t=120 can only get n0 or n1: it preempts one of them, never "res".
    s.submit(job("urgent", "co", 8, 10.0, at=120.0, priority=10))
    r = s.cycle(120.0)
    assert [p.job_id for p in r.preemptions] in (["low"], ["mid"])


def test_down_nodes_take_no_new_jobs() -> None:
    s = Scheduler(parse_inline("2x8"), policy="fifo")
    s.restore_running(RunningJob(JobSpec("old", "co", 4, 0.0, 100.0), Placement(GT, ((1, (0, 1, 2, 3)),)),
                                 0.0))
    s.set_down([1])
    s.submit(job("a", "co", 8, 10.0))
    s.submit(job("b", "co", 4, 10.0))
    r = s.cycle(0.0, explain=True)
    assert [a.job_id for a in r.admissions] == ["a"]      # on n0; n1 has 4 free GPUs but is down
    assert r.waiting["b"] == WaitReason.NO_FIT
    assert "old" in s.state.running                       # running jobs on a down node keep running
    assert s.state.index.free == [0, 4]


def test_choose_nodes_skips_busy_overlapping_and_down_nodes() -> None:
    cluster = parse_inline("8x8")  # n0..n7, racks of 4: n0-n3 and n4-n7
    running = busy_until([
        RunningJob(JobSpec("long", "co", 8, 0.0, 500.0), Placement(GT, ((0, tuple(range(8))),)), 0.0),
        RunningJob(JobSpec("ends", "co", 8, 0.0, 85.0, grace=5.0), Placement(GT, ((1, tuple(range(8))),)), 0.0)])
    other = Booking("other", "x", GT, (4, 5), 150.0, 300.0)
    # For [100, 200): n0 runs past 100 (blocked), n1 ends at 85 + 5 s grace = 90 (fine), n4/n5 are booked in
    # an overlapping window, n7 is down. Bookable: n1, n2, n3, n6.
    assert bookable(cluster, GT, 100.0, 200.0, running, [other], down=[7]) == [1, 2, 3, 6]
    # Three nodes fit in rack 0 (n1, n2, n3): chosen together rather than spread.
    assert choose_nodes(cluster, GT, 3, 100.0, 200.0, running, [other], down=[7]) == (1, 2, 3)
    assert choose_nodes(cluster, GT, 5, 100.0, 200.0, running, [other], down=[7]) is None
    # A window after the other booking ends can use n4 and n5 again.
    assert 4 in bookable(cluster, GT, 300.0, 400.0, running, [other])
    with pytest.raises(InputError) as e:
        choose_nodes(cluster, "B200", 1, 100.0, 200.0, [], [])
    assert e.value.field == "gpu_type"


def test_a_trespasser_is_preempted_when_the_window_opens() -> None:
    # "late" (org co) holds n2 and runs to t=300: it started in a race with the approval of r1 (n2, n3 from
    # t=100). At t=50 nothing happens; at t=100 it is preempted, whatever its priority or preemptibility, and
    # uni's job gets n2 once it has stopped.
    s = sched("fifo")
    s.restore_running(RunningJob(JobSpec("late", "co", 8, 0.0, 300.0, preemptible=False, priority=20),
                                 Placement(GT, ((2, tuple(range(8))),)), 0.0))
    s.submit(job("mine", "uni", 16, 90.0, at=10.0, reservation="r1"))
    assert s.cycle(50.0).preemptions == []
    r = s.cycle(100.0, explain=True)
    assert [(p.job_id, p.for_job) for p in r.preemptions] == [("late", "reservation:r1")]
    assert r.admissions == [] and r.waiting["mine"] == WaitReason.NO_FIT
    assert s.cycle(101.0).preemptions == []  # asked once
    s.release("late", 102.0)  # it stopped (the live loop queues it again in a scheduler of its own)
    r = s.cycle(102.0)
    assert [a.job_id for a in r.admissions] == ["mine"] and nodes_of(s, "mine") == [2, 3]


def test_a_trespasser_is_preempted_when_the_window_opens_even_with_an_empty_queue() -> None:
    # As above, but nobody is waiting: the window still opens at t=100 and its nodes are cleared then, and a
    # cycle on an empty queue still says when the next window opens or closes.
    s = sched("backfill")
    s.restore_running(RunningJob(JobSpec("late", "co", 8, 0.0, 300.0), Placement(GT, ((2, tuple(range(8))),)),
                                 0.0))
    r = s.cycle(50.0)
    assert r.preemptions == [] and r.wake_at == 100.0
    r = s.cycle(100.0)
    assert [(p.job_id, p.booking) for p in r.preemptions] == [("late", "r1")]
    assert r.wake_at == 200.0


@pytest.mark.parametrize("policy", ["backfill", "fairshare", "las"])
def test_a_job_backfills_onto_booked_nodes_only_if_its_grace_ends_before_the_window(policy: str) -> None:
    # n0 and n1 are taken by jobs that run past the window; the window opens at t=100 on n2 and n3. A job of
    # walltime 90 may use n2 if it also ends its grace period by t=100 (it may hold its GPUs until
    # walltime + grace once the live loop stops it at its walltime).
    s = sched(policy)
    for jid in ("a", "b"):
        s.submit(job(jid, "co", 8, 500.0))
    s.submit(job("fits", "co", 8, 90.0, grace=10.0))
    s.submit(job("overruns", "co", 8, 90.0, grace=11.0))
    r = s.cycle(0.0, explain=True)
    assert {a.job_id for a in r.admissions} == {"a", "b", "fits"}
    assert "overruns" in r.waiting
