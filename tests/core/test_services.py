"""Services in the core (``gpucloud.core.services``), cases worked out by hand on tiny clusters.

Clusters are ``NxG`` inline: node ``i`` has GPUs ``0 .. G-1``. Demand curves are steps ``(time, replicas)``.
"""

from __future__ import annotations

import pytest

from gpucloud.core.driver import Driver, SignalKind
from gpucloud.core.services import Replica
from gpucloud.core.types import PendingJob, Placement, RunningJob
from gpucloud.errors import InputError
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.demand import curve
from gpucloud.model.job import JobSpec
from gpucloud.model.service import ServiceClass, ServiceSpec, resolve_sites

GT = "H100-80GB"


def job(jid: str, gpus: int, *, walltime: float = 10_000.0, **kw: object) -> JobSpec:
    return JobSpec(jid, "ai", gpus, 0.0, walltime, **kw)  # type: ignore[arg-type]


def on(node: int, *gpus: int) -> Placement:
    return Placement(GT, ((node, gpus),))


def service(name: str, nodes: tuple[int, ...], points: list[tuple[float, int]], *, gpus: int = 4,
            lead: float = 0.0, cls: ServiceClass = ServiceClass.RAN) -> ServiceSpec:
    return ServiceSpec(name, cls, gpus, GT, nodes, curve(points, 0.0), lead)


def test_a_rise_signals_the_victim_its_grace_before_the_replica_must_start() -> None:
    """Demand rises to 1 replica (4 GPUs on node 0) at t=1000 with a 60 s ramp-up: the replica must start at 940.
    "train" holds node 0 with a 100 s grace: it is signalled at 840, killed at 940, and the replica starts at 940."""
    d = Driver(parse_inline("2x4"))
    d.set_services([service("ran", (0,), [(0, 0), (1000, 1)], lead=60.0)])
    d.restore_running(RunningJob(job("train", 4, grace=100.0), on(0, 0, 1, 2, 3), 0.0))
    d.restore_running(RunningJob(job("other", 4, preemptible=False), on(1, 0, 1, 2, 3), 0.0))
    first = d.cycle(0.0)  # the rise is planned from 940 - 300 (the cluster's longest grace): wake then
    assert first.preemptions == [] and first.wake_at == 640.0
    planned = d.cycle(640.0)
    assert planned.preemptions == [] and planned.wake_at == 840.0
    assert d.cycle(839.0).preemptions == []
    r = d.cycle(840.0)
    assert [(p.job_id, p.booking) for p in r.preemptions] == [("train", "service:ran")]
    assert [(s.job_id, s.kind) for s in d.signals(840.0)] == [("train", SignalKind.TERM)]
    assert [(s.job_id, s.kind) for s in d.signals(940.0)] == [("train", SignalKind.KILL)]
    d.requeue("train", 940.0)
    r = d.cycle(940.0)
    assert [(s.service, s.slot, s.placement) for s in r.replica_starts] == [("ran", 0, on(0, 0, 1, 2, 3))]
    assert r.admissions == []  # "train" waits: node 1 is taken


def test_free_gpus_are_held_for_a_rise_within_the_horizon() -> None:
    """Node 0 is free at 900 and the replica starts at 940, within the 300 s a job may ask as grace (the cluster's
    limit): a job arriving at 900 does not get node 0 (it could not be stopped in time), it waits."""
    d = Driver(parse_inline("2x4"))
    d.set_services([service("ran", (0, 1), [(0, 0), (1000, 1)], lead=60.0)])
    d.restore_running(RunningJob(job("busy", 4, grace=100.0, preemptible=False), on(1, 0, 1, 2, 3), 0.0))
    d.submit(PendingJob(job("late", 4)))
    r = d.cycle(900.0)
    assert r.admissions == [] and r.preemptions == []
    r = d.cycle(940.0)
    assert [s.placement for s in r.replica_starts] == [on(0, 0, 1, 2, 3)]


def test_a_fall_frees_the_gpus_for_the_queue_in_the_same_cycle() -> None:
    d = Driver(parse_inline("1x4"))
    d.set_services([service("ran", (0,), [(0, 1), (1000, 0)])])
    d.restore_replica(Replica("ran", 0, on(0, 0, 1, 2, 3), 0.0))
    d.submit(PendingJob(job("ai", 4)))
    assert d.cycle(999.0).admissions == []
    r = d.cycle(1000.0)
    assert [(s.service, s.slot) for s in r.replica_stops] == [("ran", 0)]
    assert [(a.job_id, a.placement) for a in r.admissions] == [("ai", on(0, 0, 1, 2, 3))]


def test_a_gang_is_preempted_whole_and_counts_all_its_gpus_as_lost_work() -> None:
    """A 2-GPU replica is needed on node 0 at t=100 (no grace). Candidates there: "gang" (2 nodes x 2 GPUs, running
    since 60: 4 GPUs x 40 s = 160 GPU-s lost) and "solo" (2 GPUs since 30: 2 x 70 = 140). "solo" loses less work,
    although the gang's GPUs on node 0 alone ran only 80 GPU-s. Then a second replica takes the gang: the whole
    gang stops, and its GPUs on node 1 go back to the queue."""
    d = Driver(parse_inline("2x4"))
    d.set_services([service("ran", (0,), [(0, 0), (100, 1), (200, 2)], gpus=2)])
    d.restore_running(RunningJob(job("gang", 4, nodes=2), Placement(GT, ((0, (0, 1)), (1, (0, 1)))), 60.0))
    d.restore_running(RunningJob(job("solo", 2), on(0, 2, 3), 30.0))
    r = d.cycle(100.0)
    assert [p.job_id for p in r.preemptions] == ["solo"]
    d.requeue("solo", 100.0)
    r = d.cycle(100.0)
    assert [s.placement for s in r.replica_starts] == [on(0, 2, 3)]
    r = d.cycle(200.0)
    assert [p.job_id for p in r.preemptions] == ["gang"]
    d.requeue("gang", 200.0)
    r = d.cycle(200.0)
    assert [s.placement for s in r.replica_starts] == [on(0, 0, 1)]
    state = d.scheduler.state
    assert state.running["solo"].placement == on(1, 2, 3)  # "solo" went on after its preemption
    assert "gang" in state.pending and state.index.mask[1] == 0b0011  # and the gang's half on node 1 is free


def test_a_ran_replica_never_runs_off_its_sites() -> None:
    """Node 1 is the only site and a non-preemptible job holds it; node 0 is free. The replica waits for node 1."""
    d = Driver(parse_inline("2x4"))
    d.set_services([service("ran", (1,), [(0, 1)])])
    d.restore_running(RunningJob(job("pinned", 4, preemptible=False), on(1, 0, 1, 2, 3), 0.0))
    r = d.cycle(10.0)
    assert r.replica_starts == [] and r.preemptions == []
    d.finished("pinned", 20.0)
    r = d.cycle(20.0)
    assert [s.placement for s in r.replica_starts] == [on(1, 0, 1, 2, 3)]


def test_ran_stops_an_inference_replica_which_moves_and_the_queue_never_preempts_replicas() -> None:
    d = Driver(parse_inline("2x4"))
    d.set_services([service("ran", (0,), [(0, 0), (100, 1)]),
                    service("chat", (0, 1), [(0, 1)], cls=ServiceClass.INFERENCE)])
    d.restore_replica(Replica("chat", 0, on(0, 0, 1, 2, 3), 0.0))
    d.submit(PendingJob(job("urgent", 4, priority=10)))
    r = d.cycle(50.0)
    assert r.replica_stops == [] and r.preemptions == []
    assert [a.placement for a in r.admissions] == [on(1, 0, 1, 2, 3)]
    d.finished("urgent", 60.0)
    r = d.cycle(100.0)
    assert [(s.service, s.reason) for s in r.replica_stops] == [("chat", "preempted for ran service ran")]
    assert [(s.service, s.placement) for s in r.replica_starts] == [("ran", on(0, 0, 1, 2, 3)),
                                                                    ("chat", on(1, 0, 1, 2, 3))]


def test_a_restored_driver_decides_as_the_one_that_lived() -> None:
    def build() -> Driver:
        d = Driver(parse_inline("2x4"))
        d.set_services([service("ran", (0,), [(0, 1), (500, 2)], gpus=2, lead=30.0)])
        d.restore_running(RunningJob(job("a", 2, grace=50.0), on(0, 2, 3), 0.0))
        d.submit(PendingJob(job("b", 4)))
        return d

    lived = build()
    lived.cycle(0.0)
    again = Driver.restore(lived.cluster, None, "fifo", None, lived.export())
    one, two = lived.cycle(420.0), again.cycle(420.0)
    assert [p.job_id for p in one.preemptions] == [p.job_id for p in two.preemptions] == ["a"]
    assert one.wake_at == two.wake_at == 470.0


def test_sites_resolve_blocks_racks_and_nodes_and_name_a_bad_one() -> None:
    c = parse_inline("8x4")
    assert resolve_sites(c, [c.racks[1].name], GT, 4) == (4, 5, 6, 7)
    assert resolve_sites(c, [c.nodes[2].name, c.blocks[0].name], GT, 2) == tuple(range(8))
    with pytest.raises(InputError, match=r"sites\[1\]"):
        resolve_sites(c, [c.nodes[0].name, "nowhere"], GT, 4)
    with pytest.raises(InputError, match="no node of these sites has 8 GPUs"):
        resolve_sites(c, [c.nodes[0].name], GT, 8)


def test_a_victim_that_can_stop_in_time_goes_before_one_that_loses_less_work_but_would_be_late() -> None:
    """A driver rebuilt at 900 for a rise at 1000 (4 GPUs on node 0 or 1). "long" on node 0 ran 400 s (1,600 GPU-s
    lost) but has 250 s of grace: signalled now it frees its GPUs at 1150, late. "short" on node 1 ran 990 s by its
    signal time (3,960 GPU-s) with 10 s of grace: it is signalled at 990 and gone at 1000. "short" it is."""
    d = Driver(parse_inline("2x4"))
    d.set_services([service("ran", (0, 1), [(0, 0), (1000, 1)])])
    d.restore_running(RunningJob(job("long", 4, grace=250.0), on(0, 0, 1, 2, 3), 500.0))
    d.restore_running(RunningJob(job("short", 4, grace=10.0), on(1, 0, 1, 2, 3), 0.0))
    r = d.cycle(900.0)
    assert r.preemptions == [] and r.wake_at == 990.0
    assert [p.job_id for p in d.cycle(990.0).preemptions] == ["short"]
    d.requeue("short", 1000.0)
    assert [s.placement for s in d.cycle(1000.0).replica_starts] == [on(1, 0, 1, 2, 3)]
