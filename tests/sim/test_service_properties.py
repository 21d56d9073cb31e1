"""Services under random small workloads (seeded, so every run checks the same cases), every policy, with every
feature on (priority classes, quotas with borrowing limits, preemption, grace periods, a booking some jobs name):

* a replica is never on a node outside its service's sites, never on a GPU a job or another replica holds, and
  every GPU is either free or held (nothing lost);
* a replay whose driver is rebuilt from its export before every cycle is the same replay;
* a RAN service alone, whose peak fits its sites, with preemptible AI work of any grace up to the cluster's limit,
  always runs the replicas its demand wants (100% met).
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from gpucloud.core.bookings import Booking
from gpucloud.core.policies import POLICIES
from gpucloud.core.types import CycleResult
from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.demand import curve
from gpucloud.model.job import JobSpec
from gpucloud.model.org import Org
from gpucloud.model.service import ServiceClass, ServiceSpec
from gpucloud.sim.engine import SimConfig, Simulation
from gpucloud.sim.events import Kind
from gpucloud.sim.service_replay import replay
from gpucloud.sim.service_report import met
from gpucloud.sim.traces.base import TraceJob

SEEDS = range(12)


def workload(rng: random.Random, n: int, g: int, jobs: int, preemptible: float) -> list[TraceJob]:
    sizes = [1, 2, g, 2 * g] if n > 1 else [1, 2, g]
    return [TraceJob(JobSpec(f"j{j}", f"o{j % 3}", rng.choice(sizes), rng.uniform(0, 2500), 4000.0,
                             grace=rng.choice([0.0, 30.0, 120.0, 299.0]), preemptible=rng.random() < preemptible,
                             priority=rng.choice([0, 0, 10])), rng.uniform(10, 2000)) for j in range(jobs)]


def mixed(seed: int) -> tuple[Cluster, list[ServiceSpec], list[TraceJob], dict[str, Org], tuple[Booking, ...]]:
    """Services of both classes next to jobs with every feature on: priority classes, quotas with borrowing
    limits, preemption, grace periods, and a booking (advance reservation) that some jobs name."""
    rng = random.Random(seed)
    n, g = rng.randint(2, 6), rng.choice((4, 8))
    specs = []
    for i in range(rng.randint(1, 3)):
        nodes = tuple(sorted(rng.sample(range(n), rng.randint(1, n))))
        points = [(t * 300.0, rng.randint(0, 3)) for t in range(rng.randint(2, 8))] + [(3000.0, 0)]
        cls = ServiceClass.RAN if rng.random() < 0.6 else ServiceClass.INFERENCE
        specs.append(ServiceSpec(f"s{i}", cls, rng.choice([1, 2, g // 2]), "H100-80GB", nodes, curve(points, 0.0),
                                 rng.choice([0.0, 60.0])))
    orgs = {f"o{i}": Org(f"o{i}", quota={"H100-80GB": rng.randint(0, 8)},
                         borrow_limit={"H100-80GB": rng.randint(2 * g, 4 * g)}) for i in range(3)}
    start = rng.uniform(0, 2000)
    booking = Booking("r1", "o0", "H100-80GB", (rng.randrange(n),), start, start + rng.uniform(300, 1200))
    jobs = workload(rng, n, g, rng.randint(5, 40), 0.9)
    for i in rng.sample(range(len(jobs)), min(3, len(jobs))):
        spec = jobs[i].spec
        if spec.org == "o0":
            jobs[i] = TraceJob(replace(spec, num_gpus=min(spec.num_gpus, g), nodes=None, walltime=200.0,
                                       submit_time=max(0.0, start - 100), reservation="r1"), 150.0)
    return parse_inline(f"{n}x{g}"), specs, jobs, orgs, (booking,)


class Invariants:
    """The observer of a replay: after every cycle, replicas on their sites and every GPU free or held once."""

    def __init__(self, cluster: Cluster, specs: list[ServiceSpec]) -> None:
        self.sites = {s.name: set(s.nodes) for s in specs}
        self.full = [(1 << node.gpus) - 1 for node in cluster.nodes]
        self.sim: Simulation | None = None

    def __call__(self, now: float, result: CycleResult) -> None:
        assert self.sim is not None
        state = self.sim.driver.scheduler.state
        held = [0] * len(self.full)
        holders = [r.placement for r in state.running.values()]
        assert state.services is not None
        for rep in state.services.all():
            assert {n for n, _ in rep.placement.nodes} <= self.sites[rep.service]
            holders.append(rep.placement)
        for placement in holders:
            for node, mask in placement.masks:
                assert not held[node] & mask, f"t={now}: GPUs of node {node} held twice"
                held[node] |= mask
        for node, mask in enumerate(held):
            assert mask | state.index.mask[node] == self.full[node] and not mask & state.index.mask[node]


@pytest.mark.parametrize("seed", SEEDS)
def test_replicas_stay_on_their_sites_and_the_gpus_add_up_and_a_rebuild_replays_the_same(seed: int) -> None:
    cluster, specs, jobs, orgs, bookings = mixed(seed)
    for policy in POLICIES.names():
        replays = []
        for rebuild in (False, True):
            check = Invariants(cluster, specs)
            sim = check.sim = Simulation(cluster, jobs, policy, orgs, observer=check, config=SimConfig(
                rebuild_every_cycle=rebuild, services=tuple(specs), bookings=bookings))
            sim.loop.push(0.0, Kind.WAKE, ("", 0))
            replays.append([(s.job_id, s.start_time, s.end_time) for s in sim.run().segments])
        assert replays[0] == replays[1], policy


@pytest.mark.parametrize("seed", SEEDS)
def test_a_ran_service_whose_peak_fits_always_gets_its_replicas(seed: int) -> None:
    rng = random.Random(1000 + seed)
    n, g = rng.randint(1, 5), rng.choice((4, 8))
    nodes = tuple(sorted(rng.sample(range(n), rng.randint(1, n))))
    per = rng.choice([1, 2, g // 2, g])
    peak = len(nodes) * (g // per)
    points = [(t * 300.0, rng.randint(0, peak)) for t in range(rng.randint(2, 10))] + [(3600.0, 0)]
    ran = ServiceSpec("ran", ServiceClass.RAN, per, "H100-80GB", nodes, curve(points, 0.0), rng.choice([0.0, 200.0]))
    jobs = workload(rng, n, g, rng.randint(5, 40), 1.0)
    for policy in ("fifo", "backfill", "las"):
        (figures,) = met(replay(parse_inline(f"{n}x{g}"), jobs, policy, [ran], 3600.0))
        assert (figures.met_time, figures.met_replicas) == (1.0, 1.0), policy
