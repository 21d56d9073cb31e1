"""Fair share reclaims guaranteed quota per GPU type, and takes no more than it needs.

* A job may reclaim GPUs of a type only while its org stays within its guarantee of that type.
* Among the sets of borrowed jobs whose preemption makes room, the cycle takes one that preempts the fewest
  GPUs, and never takes a borrower below its own guarantee when another set would do.
"""

from __future__ import annotations

from gpucloud.core.scheduler import Scheduler
from gpucloud.core.types import PendingJob, Placement, RunningJob
from gpucloud.model.cluster_file import cluster_from_dict, parse_inline
from gpucloud.model.job import JobSpec
from gpucloud.model.org import Org


def running(jid: str, org: str, gpu_type: str, node: int, gpus: tuple[int, ...], start: float,
            preemptible: bool = True) -> RunningJob:
    spec = JobSpec(jid, org, len(gpus), start, 10_000.0, gpu_type, preemptible=preemptible)
    return RunningJob(spec, Placement(gpu_type, ((node, gpus),)), start)


def test_a_guarantee_of_one_type_does_not_reclaim_another_type() -> None:
    """One 4-GPU A100 node and one 4-GPU H100 node. Org a is guaranteed 4 A100s, none of H100. The A100s are
    held by org c (non-preemptible); org b borrows all H100s. a's job of 4 GPUs of any type stays within a's
    guarantee only on A100 — where nothing can be reclaimed — so it waits; b's H100 jobs are not preempted."""
    cluster = cluster_from_dict({"name": "two-types", "gpu_types": {"A100-80GB": {"memory_gb": 80, "speed": 1.0}},
                                 "blocks": [{"racks": [{"nodes": [
                                     {"name": "a", "gpus": 4, "gpu_type": "A100-80GB"},
                                     {"name": "h", "gpus": 4, "gpu_type": "H100-80GB"}]}]}]})
    orgs = {"a": Org("a", quota={"A100-80GB": 4}), "b": Org("b"), "c": Org("c")}
    s = Scheduler(cluster, orgs, "fairshare")
    s.restore_running(running("c1", "c", "A100-80GB", 0, (0, 1, 2, 3), 0.0, preemptible=False))
    s.restore_running(running("b1", "b", "H100-80GB", 1, (0, 1, 2, 3), 0.0))
    s.submit(PendingJob(JobSpec("a1", "a", 4, 10.0, 600.0)))
    r = s.cycle(10.0)
    assert r.preemptions == []
    assert r.admissions == []


def test_reclaim_takes_the_fewest_gpus_and_leaves_the_borrower_its_guarantee() -> None:
    """One 8-GPU node. Orgs a and b are each guaranteed 4 GPUs. b holds 2 (b2, older) + 6 (b6, newer) = 8 GPUs,
    4 over its guarantee. a asks for 2: preempting b2 is enough and leaves b at 6 >= 4; preempting b6 (the
    newest, first in the old order) would leave b at 2, under its guarantee, and 4 GPUs idle."""
    orgs = {"a": Org("a", quota={"H100-80GB": 4}), "b": Org("b", quota={"H100-80GB": 4})}
    s = Scheduler(parse_inline("1x8"), orgs, "fairshare")
    s.restore_running(running("b2", "b", "H100-80GB", 0, (0, 1), 0.0))
    s.restore_running(running("b6", "b", "H100-80GB", 0, (2, 3, 4, 5, 6, 7), 5.0))
    s.submit(PendingJob(JobSpec("a2", "a", 2, 10.0, 600.0)))
    r = s.cycle(10.0)
    assert [(p.job_id, p.for_job) for p in r.preemptions] == [("b2", "a2")]


def test_reclaim_prefers_fewer_gpus_across_borrowers() -> None:
    """One 8-GPU node. a is guaranteed 4; b and c are guaranteed nothing and borrow: b holds 4 (one job, the
    newest), c holds 1 + 1 + 2. a asks for 2: one of c's 2-GPU job is enough; b's 4-GPU job is not needed."""
    orgs = {"a": Org("a", quota={"H100-80GB": 4}), "b": Org("b"), "c": Org("c")}
    s = Scheduler(parse_inline("1x8"), orgs, "fairshare")
    s.restore_running(running("c1", "c", "H100-80GB", 0, (0,), 0.0))
    s.restore_running(running("c2", "c", "H100-80GB", 0, (1,), 1.0))
    s.restore_running(running("c3", "c", "H100-80GB", 0, (2, 3), 2.0))
    s.restore_running(running("b4", "b", "H100-80GB", 0, (4, 5, 6, 7), 3.0))
    s.submit(PendingJob(JobSpec("a2", "a", 2, 10.0, 600.0)))
    r = s.cycle(10.0)
    victims = sorted(p.job_id for p in r.preemptions)
    assert sum(len(s.state.running[v].placement.nodes[0][1]) for v in victims) == 2
    assert "b4" not in victims
