"""Each policy on small scenarios whose start and end times were worked out by hand.

Every scenario is driven through the simulator (``gpucloud.sim.engine.simulate``) on a tiny inline cluster
with hand-made jobs whose walltime is given explicitly. The reasoning behind each expected time is written
next to the scenario. Conventions used in the reasoning:

* ``parse_inline('NxG')`` numbers nodes n0, n1, ... (racks of 4 nodes, blocks of 8 racks).
* A single-node job goes to the node with the fewest free GPUs that still fits it; among equal nodes the
  lowest-numbered one (nodes start in their bucket in index order).
* Events at the same time are all handled, then one scheduling cycle runs.
* A preempted job runs on through its grace period, then keeps only the work up to its last checkpoint
  (``checkpoint_interval``; 0 means nothing is lost).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from gpucloud.core.state import SchedulerConfig
from gpucloud.core.types import CycleResult, WaitReason
from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import cluster_from_dict, parse_inline
from gpucloud.model.job import JobSpec
from gpucloud.model.org import Org
from gpucloud.sim.engine import SimConfig, SimResult, simulate
from gpucloud.sim.records import JobRecord
from gpucloud.sim.traces.base import TraceJob


def job(jid: str, gpus: int, submit: float, duration: float, walltime: float, **kw: Any) -> TraceJob:
    """A trace job; ``org`` defaults to ``a``; other keywords go to :class:`JobSpec`."""
    org = kw.pop("org", "a")
    return TraceJob(JobSpec(jid, org, gpus, submit, walltime, **kw), duration)


def run(
    cluster: str | Cluster,
    jobs: Sequence[TraceJob],
    policy: str,
    *,
    orgs: Mapping[str, Org] | None = None,
    checkpoint: float = 0.0,
    scheduler: SchedulerConfig | None = None,
    observer: Any = None,
) -> SimResult:
    c = parse_inline(cluster) if isinstance(cluster, str) else cluster
    config = SimConfig(checkpoint_interval=checkpoint, scheduler=scheduler or SchedulerConfig())
    return simulate(c, list(jobs), policy, orgs, config, observer)


def by_id(result: SimResult) -> dict[str, JobRecord]:
    return {r.job_id: r for r in result.jobs}


def starts(result: SimResult) -> dict[str, float | None]:
    return {r.job_id: r.start_time for r in result.jobs}


def ends(result: SimResult) -> dict[str, float | None]:
    return {r.job_id: r.end_time for r in result.jobs}


def segments(result: SimResult, jid: str) -> list[tuple[float, float]]:
    return [(s.start_time, s.end_time) for s in result.segments if s.job_id == jid]


def nodes_of(result: SimResult, jid: str) -> set[str]:
    return {g.split("/")[0] for s in result.segments if s.job_id == jid for g in s.gpus}


# --- fifo ------------------------------------------------------------------------------------------------


def test_fifo_head_blocks_a_small_job_behind_it() -> None:
    """2 nodes × 8 GPUs.

    * j0: 8 GPUs at t=0 for 100 s → starts at 0 on n0, ends 100.
    * j1: 16 GPUs (2 × 8) at t=1 for 50 s → needs both nodes; n0 is busy until 100 → starts 100, ends 150.
    * j2: 1 GPU at t=2 for 10 s → n1 is free, but strict FIFO keeps it behind the head j1. At 100 j1 takes
      both nodes, so j2 starts when j1 ends: 150, ends 160.
    """
    jobs = [job("j0", 8, 0, 100, 100), job("j1", 16, 1, 50, 50), job("j2", 1, 2, 10, 10)]
    res = run("2x8", jobs, "fifo")
    assert starts(res) == {"j0": 0, "j1": 100, "j2": 150}
    assert ends(res) == {"j0": 100, "j1": 150, "j2": 160}
    assert nodes_of(res, "j0") == {"b0-r0-n0"}
    assert nodes_of(res, "j1") == {"b0-r0-n0", "b0-r0-n1"}


def test_fifo_reports_blocked_jobs_with_explain() -> None:
    """The same head-of-line situation through the Scheduler directly: j2 waits 'behind the head job'."""
    from gpucloud.core.scheduler import Scheduler
    from gpucloud.core.types import PendingJob

    s = Scheduler(parse_inline("2x8"), None, "fifo")
    for j in [job("j0", 8, 0, 100, 100), job("j1", 16, 0, 50, 50), job("j2", 1, 0, 10, 10)]:
        s.submit(PendingJob(j.spec))
    res = s.cycle(0.0, explain=True)
    assert [a.job_id for a in res.admissions] == ["j0"]
    assert res.order == ["j0", "j1", "j2"]
    assert res.waiting == {"j1": WaitReason.NO_FIT, "j2": WaitReason.BLOCKED}


# --- backfill (EASY) ------------------------------------------------------------------------------------


def test_backfill_short_job_jumps_ahead_long_job_does_not() -> None:
    """2 nodes × 8 GPUs.

    * j0: 8 GPUs, walltime 100, at t=0 → n0, 0..100.
    * j1: 16 GPUs, walltime 50, at t=1 → the head; reservation at t=100 (j0's walltime end) on n0+n1.
    * j2: 4 GPUs, walltime 50, at t=2 → 2+50=52 <= 100, so it backfills now on n1: starts 2, ends 52.
    * j3: 4 GPUs, walltime 200, at t=3 → fits on n1 now but would still hold it at 100, when the head needs
      all of n1 → waits. At 52 (j2 ends) the same holds. At 100 j1 takes both nodes (100..150), so j3
      starts at 150, ends 350.
    Under fifo j2 would wait for the head too: it starts at 150 with j3 (they fit together on one node).
    """
    jobs = [job("j0", 8, 0, 100, 100), job("j1", 16, 1, 50, 50), job("j2", 4, 2, 50, 50),
            job("j3", 4, 3, 200, 200)]
    res = run("2x8", jobs, "backfill")
    assert starts(res) == {"j0": 0, "j1": 100, "j2": 2, "j3": 150}
    assert ends(res) == {"j0": 100, "j1": 150, "j2": 52, "j3": 350}
    fifo = run("2x8", jobs, "fifo")
    assert starts(fifo) == {"j0": 0, "j1": 100, "j2": 150, "j3": 150}


def test_backfill_reports_the_head_reservation() -> None:
    """The observer sees j1 as the head with reservation time 100 (j0's walltime end), and j3's reason."""
    seen: list[tuple[float, CycleResult]] = []
    jobs = [job("j0", 8, 0, 100, 100), job("j1", 16, 1, 50, 50), job("j3", 4, 3, 200, 200)]
    run("2x8", jobs, "backfill", observer=lambda now, r: seen.append((now, r)))
    at3 = [r for now, r in seen if now == 3]
    assert at3 and at3[0].head_reservation == ("j1", 100)
    assert at3[0].waiting["j3"] == WaitReason.RESERVED


def test_backfill_long_job_on_a_non_reserved_node_starts() -> None:
    """3 nodes × 8 GPUs, all at t=0 in this order: a (8 GPUs, walltime 100) → n0; b (8, walltime 200) → n1;
    c (4, walltime 300) → n2 (the only node left with room).

    * h: 16 GPUs, walltime 100, at t=1 → needs two whole nodes. At 100 only n0 is whole (n2 still has c);
      at 200 n0+n1 are → reservation at 200 on n0, n1. Starts 200, ends 300.
    * x: 4 GPUs, walltime 1000, at t=2 → fits on n2 (4 free), which the head does not need → starts at 2
      although it runs far past 200.
    """
    jobs = [job("a", 8, 0, 100, 100), job("b", 8, 0, 200, 200), job("c", 4, 0, 300, 300),
            job("h", 16, 1, 100, 100), job("x", 4, 2, 1000, 1000)]
    res = run("3x8", jobs, "backfill")
    assert starts(res) == {"a": 0, "b": 0, "c": 0, "h": 200, "x": 2}
    assert nodes_of(res, "c") == nodes_of(res, "x") == {"b0-r0-n2"}
    assert nodes_of(res, "h") == {"b0-r0-n0", "b0-r0-n1"}


def test_backfill_respects_the_spare_gpus_on_reserved_nodes() -> None:
    """2 nodes × 8 GPUs. j0 (4 GPUs, walltime 100) → n0 GPUs 0-3; j1 (8, walltime 200) → n1; both at t=0.

    * h: 12 GPUs at t=1 = a gang of 2 nodes × 6, walltime 50. At 100 n1 is still full; at 200 both nodes
      are free → reservation at 200 on n0, n1, each with 8-6 = 2 spare GPUs.
    * p: 2 GPUs, walltime 1000, at t=2 → goes to n0 (4 free, the tightest fit), past 200, but uses only the
      2 spare GPUs of n0 → starts at 2.
    * q: 2 GPUs, walltime 1000, at t=3 → n0 has 2 free GPUs, but the head now needs all 6 others of n0 at
      200 → waits. At 100 (j0 ends) n0 has 6 free, all needed by the head → waits. At 200 h takes 6 of n0
      and 6 of n1 (200..250); q takes the 2 left on n1 at 200.
    """
    jobs = [job("j0", 4, 0, 100, 100), job("j1", 8, 0, 200, 200), job("h", 12, 1, 50, 50),
            job("p", 2, 2, 1000, 1000), job("q", 2, 3, 1000, 1000)]
    res = run("2x8", jobs, "backfill")
    assert starts(res) == {"j0": 0, "j1": 0, "h": 200, "p": 2, "q": 200}
    assert nodes_of(res, "p") == {"b0-r0-n0"}
    assert nodes_of(res, "q") == {"b0-r0-n1"}


# --- fairshare ------------------------------------------------------------------------------------------


def test_fairshare_two_equal_orgs_alternate() -> None:
    """1 node × 1 GPU; orgs a and b (default: weight 1, no quota); three 100 s jobs each, all at t=0.

    * t=0: equal shares (0) → the tie goes to the org name: a0 runs 0..100.
    * t=100: a has ~100 GPU-s of usage, b none → b0 runs 100..200.
    * t=200: a's usage decayed over 200 s, b's over 100 s, same amount → a is lower → a1 200..300.
    * and so on: b1 300, a2 400, b2 500.
    Under fifo the order would be a0 a1 a2 b0 b1 b2 (submission order).
    """
    jobs = [job(f"a{i}", 1, 0, 100, 100, org="a") for i in range(3)]
    jobs += [job(f"b{i}", 1, 0, 100, 100, org="b") for i in range(3)]
    res = run("1x1", jobs, "fairshare")
    assert starts(res) == {"a0": 0, "b0": 100, "a1": 200, "b1": 300, "a2": 400, "b2": 500}
    assert starts(run("1x1", jobs, "fifo")) == {"a0": 0, "a1": 100, "a2": 200, "b0": 300, "b1": 400, "b2": 500}


def test_fairshare_org_within_quota_goes_before_a_borrower() -> None:
    """1 node × 4 GPUs; org b has a quota of 4, org a none.

    * bp: b, 4 GPUs at t=0 for 100 s → runs 0..100, so b has used 400 GPU-s and a nothing.
    * a1 (a, 4 GPUs, 100 s) and b1 (b, 4 GPUs, 100 s) both arrive at t=50 and wait.
    * t=100: a's share is lower, but b1 is within b's quota (0 + 4 <= 4) and a1 would borrow → b1 first:
      100..200; a1 200..300.
    Without the quota, the share order starts a1 at 100.
    """
    jobs = [job("bp", 4, 0, 100, 100, org="b"), job("a1", 4, 50, 100, 100, org="a"),
            job("b1", 4, 50, 100, 100, org="b")]
    quota = {"b": Org("b", quota={"H100-80GB": 4})}
    res = run("1x4", jobs, "fairshare", orgs=quota)
    assert starts(res) == {"bp": 0, "b1": 100, "a1": 200}
    assert starts(run("1x4", jobs, "fairshare")) == {"bp": 0, "a1": 100, "b1": 200}


def test_fairshare_reclaims_quota_from_a_borrower() -> None:
    """1 node × 8 GPUs; orgs a and b each have a quota of 4; checkpoints every 100 s.

    * b0: b, 8 GPUs (4 borrowed), at t=0, needs 1000 s, grace 60 → starts 0.
    * a0: a, 4 GPUs, at t=250, 100 s → within a's quota, cluster full; b is 4 over its quota → b0 is
      preempted at 250 and stops after its grace at 310. It ran 310 s but keeps only 300 (last checkpoint).
    * t=310: a0 (within quota) starts 310..410; b0 (8 GPUs) no longer fits.
    * t=410: b0 restarts with 1000 - 300 = 700 s left → ends 1110.
    """
    orgs = {"a": Org("a", quota={"H100-80GB": 4}), "b": Org("b", quota={"H100-80GB": 4})}
    jobs = [job("b0", 8, 0, 1000, 2000, org="b", grace=60), job("a0", 4, 250, 100, 100, org="a")]
    res = run("1x8", jobs, "fairshare", orgs=orgs, checkpoint=100)
    rec = by_id(res)
    assert starts(res) == {"b0": 0, "a0": 310}
    assert ends(res) == {"b0": 1110, "a0": 410}
    assert segments(res, "b0") == [(0, 310), (410, 1110)]
    assert rec["b0"].preemptions == 1 and rec["b0"].state == "succeeded"
    assert res.preemptions == 1


def test_fairshare_does_not_reclaim_for_a_borrower() -> None:
    """The same, but a has no quota: a0 would only borrow, so b0 is not preempted (a0 starts at 1000)."""
    orgs = {"b": Org("b", quota={"H100-80GB": 4})}
    jobs = [job("b0", 8, 0, 1000, 2000, org="b", grace=60), job("a0", 4, 250, 100, 100, org="a")]
    res = run("1x8", jobs, "fairshare", orgs=orgs, checkpoint=100)
    assert starts(res) == {"b0": 0, "a0": 1000}
    assert res.preemptions == 0


def test_borrowing_limit_caps_an_org() -> None:
    """1 node × 8 GPUs; org a: quota 2, borrowing limit 2 → at most 4 GPUs at once, under every policy.

    Six 1-GPU jobs of 100 s at t=0: four start at 0, the other two at 100 although 4 GPUs stay idle.
    """
    orgs = {"a": Org("a", quota={"H100-80GB": 2}, borrow_limit={"H100-80GB": 2})}
    jobs = [job(f"j{i}", 1, 0, 100, 100) for i in range(6)]
    for policy in ("fifo", "backfill", "fairshare", "las", "srtf"):
        res = run("1x8", jobs, policy, orgs=orgs)
        assert sorted(s for s in starts(res).values() if s is not None) == [0, 0, 0, 0, 100, 100], policy


# --- las ------------------------------------------------------------------------------------------------

#: one threshold of 400 GPU-seconds; a job that ran t seconds is promoted after waiting 5 t; no minimum run time
LAS = SchedulerConfig(las_thresholds=(400.0,), las_gpu_time=True, las_starve_limit=5.0, las_min_run=0.0)


def test_las_new_job_preempts_a_job_that_crossed_the_threshold() -> None:
    """1 node × 4 GPUs; one threshold at 400 GPU-s; no checkpoint loss.

    * L: 4 GPUs at t=0, needs 1000 s → runs from 0; it reaches 400 GPU-s (queue 1) at t=100.
    * S: 1 GPU at t=50, 10 s. At 50 L has 200 GPU-s, still queue 0 like S → no preemption; the policy asks
      to be woken at 100, when L crosses the threshold. At 100 L is preempted (grace 0) and S starts:
      100..110. L (queue 1, needs 4 GPUs) waits until S ends and restarts at 110 with 900 s left → 1010.
    """
    jobs = [job("L", 4, 0, 1000, 5000), job("S", 1, 50, 10, 10)]
    res = run("1x4", jobs, "las", scheduler=LAS)
    assert starts(res) == {"L": 0, "S": 100}
    assert segments(res, "L") == [(0, 100), (110, 1010)]
    assert by_id(res)["L"].preemptions == 1


def test_las_starving_job_is_promoted() -> None:
    """1 node × 4 GPUs; threshold 400 GPU-s; promotion after waiting 5 × the run time; no checkpoint loss.

    * L: 4 GPUs at t=0, needs 105 s. S0: 4 GPUs at t=50, 90 s → at 100 L crosses 400 GPU-s and S0
      preempts it: S0 runs 100..190, L is queued again at 100 (queue 1, 5 s left).
    * S1..S9: 4 GPUs, 90 s each (360 GPU-s: they stay in queue 0), all at t=101. They run one after
      another: S1 190, S2 280, S3 370, S4 460, S5 550..640.
    * L ran 100 s (400 GPU-s on 4 GPUs); it has waited 5 × 100 s at t=600 → promoted to queue 0 (its attained
      service reset) with its queue time 100, before S6..S9 (101). It cannot preempt S5 (same queue), so it
      starts when S5 ends: 640..645. S6, still waiting, must not
      preempt L in the cycle that just started it (L ranked first there). S6 645, S7 735, S8 825, S9 915.
    Without the promotion (a huge starvation limit) L waits for all of S6..S9: S6 640 ... S9 910..1000,
    and L 1000..1005.
    """
    jobs = [job("L", 4, 0, 105, 10_000), job("S0", 4, 50, 90, 1000)]
    jobs += [job(f"S{k}", 4, 101, 90, 1000) for k in range(1, 10)]
    res = run("1x4", jobs, "las", scheduler=LAS)
    st = starts(res)
    assert [st[f"S{k}"] for k in range(10)] == [100, 190, 280, 370, 460, 550, 645, 735, 825, 915]
    assert segments(res, "L") == [(0, 100), (640, 645)]
    assert by_id(res)["L"].preemptions == 1

    never = SchedulerConfig(las_thresholds=(400.0,), las_gpu_time=True, las_starve_limit=1e9, las_min_run=0.0)
    res = run("1x4", jobs, "las", scheduler=never)
    st = starts(res)
    assert [st[f"S{k}"] for k in range(10)] == [100, 190, 280, 370, 460, 550, 640, 730, 820, 910]
    assert segments(res, "L") == [(0, 100), (1000, 1005)]


# --- srtf -----------------------------------------------------------------------------------------------


def test_srtf_shortest_first() -> None:
    """1 node × 4 GPUs; three 4-GPU jobs at t=0 (walltime 1000 each): A 300 s, B 100 s, C 200 s.

    Shortest true duration first: B 0..100, C 100..300, A 300..600 (fifo would give A 0, B 300, C 400).
    """
    jobs = [job("A", 4, 0, 300, 1000), job("B", 4, 0, 100, 1000), job("C", 4, 0, 200, 1000)]
    res = run("1x4", jobs, "srtf")
    assert starts(res) == {"A": 300, "B": 0, "C": 100}
    assert ends(res) == {"A": 600, "B": 100, "C": 300}


def test_srtf_preempts_a_longer_running_job() -> None:
    """1 node × 4 GPUs; no checkpoint loss.

    * L: 4 GPUs at t=0, 1000 s, grace 30 → runs from 0.
    * S: 2 GPUs at t=100, 50 s → L has 900 s left > 50 → L is preempted at 100 and stops at 130 (grace);
      S runs 130..180. L (870 s left) cannot take S's GPUs (50 < 870), restarts at 180 and ends 1050.
    """
    jobs = [job("L", 4, 0, 1000, 5000, grace=30), job("S", 2, 100, 50, 50)]
    res = run("1x4", jobs, "srtf")
    assert starts(res) == {"L": 0, "S": 130}
    assert segments(res, "L") == [(0, 130), (180, 1050)]
    assert by_id(res)["L"].preemptions == 1


def test_srtf_does_not_preempt_a_shorter_running_job() -> None:
    """L (4 GPUs, 1000 s) runs from 0; M (2 GPUs, 950 s) arrives at 100: L has only 900 s left, which is
    less than M's 950 → no preemption; M starts when L ends at 1000."""
    jobs = [job("L", 4, 0, 1000, 5000), job("M", 2, 100, 950, 1000)]
    res = run("1x4", jobs, "srtf")
    assert starts(res) == {"L": 0, "M": 1000}
    assert res.preemptions == 0


# --- priority classes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["fifo", "backfill"])
def test_priority_preempts_a_lower_preemptible_job_after_its_grace(policy: str) -> None:
    """1 node × 4 GPUs; checkpoints every 100 s.

    * lo: priority -10, 4 GPUs at t=0, 1000 s, grace 50 → runs from 0.
    * hi: priority 10, 4 GPUs at t=100, 100 s → preempts lo at 100; lo stops at 150 (grace), keeping the
      100 s up to its last checkpoint. hi runs 150..250; lo restarts at 250 with 900 s left → 1150.
    """
    jobs = [job("lo", 4, 0, 1000, 2000, priority=-10, grace=50), job("hi", 4, 100, 100, 100, priority=10)]
    res = run("1x4", jobs, policy, checkpoint=100)
    assert starts(res) == {"lo": 0, "hi": 150}
    assert segments(res, "lo") == [(0, 150), (250, 1150)]
    assert by_id(res)["lo"].preemptions == 1


@pytest.mark.parametrize("policy", ["fifo", "backfill", "fairshare", "las", "srtf"])
def test_a_non_preemptible_job_is_never_preempted(policy: str) -> None:
    """As above but lo is not preemptible: hi waits until lo ends at 1000 and runs 1000..1100."""
    jobs = [job("lo", 4, 0, 1000, 2000, priority=-10, grace=50, preemptible=False),
            job("hi", 4, 100, 100, 100, priority=10)]
    res = run("1x4", jobs, policy, checkpoint=100)
    assert starts(res) == {"lo": 0, "hi": 1000}
    assert segments(res, "lo") == [(0, 1000)]
    assert res.preemptions == 0


def test_equal_priority_does_not_preempt_under_fifo() -> None:
    """Both jobs priority 0: the later one waits (fifo never preempts within a class)."""
    jobs = [job("a", 4, 0, 1000, 2000), job("b", 4, 100, 100, 100)]
    res = run("1x4", jobs, "fifo")
    assert starts(res) == {"a": 0, "b": 1000}


# --- walltime and GPU speed ----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["fifo", "backfill", "fairshare", "las", "srtf"])
def test_walltime_kill(policy: str) -> None:
    """1 node × 1 GPU. k: needs 500 s but asks for a walltime of 200 → killed at 200 (timed_out); n: 100 s at
    t=10 → starts when k is killed, 200..300, and succeeds. (k is not preemptible, else srtf would preempt it
    for the shorter n.)"""
    jobs = [job("k", 1, 0, 500, 200, preemptible=False), job("n", 1, 10, 100, 100)]
    res = run("1x1", jobs, policy)
    rec = by_id(res)
    assert (rec["k"].end_time, rec["k"].state) == (200, "timed_out")
    assert (rec["n"].start_time, rec["n"].end_time, rec["n"].state) == (200, 300, "succeeded")


def _two_speed_cluster() -> Cluster:
    return cluster_from_dict({
        "name": "two-speeds",
        "gpu_types": {"SLOW": {"memory_gb": 80, "speed": 1.0}, "FAST": {"memory_gb": 80, "speed": 2.0}},
        "blocks": [{"racks": [{"nodes": [{"name": "s", "gpus": 4, "gpu_type": "SLOW"},
                                         {"name": "f", "gpus": 4, "gpu_type": "FAST"}]}]}],
    })


def test_gpu_type_speed_halves_the_run_time() -> None:
    """A FAST GPU (speed 2.0) does 100 s of work in 50 s; a SLOW one (1.0) needs 100 s.

    f: 100 s of work with walltime 60, pinned to FAST → ends at 50 and succeeds (60 is not exceeded).
    s: 100 s of work with walltime 200, pinned to SLOW → ends at 100.
    """
    jobs = [job("f", 4, 0, 100, 60, gpu_type="FAST"), job("s", 4, 0, 100, 200, gpu_type="SLOW")]
    res = run(_two_speed_cluster(), jobs, "fifo")
    rec = by_id(res)
    assert (rec["f"].end_time, rec["f"].state) == (50, "succeeded")
    assert (rec["s"].end_time, rec["s"].state) == (100, "succeeded")
    assert nodes_of(res, "f") == {"b-r-f"}
    assert nodes_of(res, "s") == {"b-r-s"}


def test_gpu_type_speed_and_walltime_on_the_slow_type() -> None:
    """The same job as f, pinned to SLOW: 100 s of work does not fit its 60 s walltime → timed_out at 60."""
    res = run(_two_speed_cluster(), [job("f", 4, 0, 100, 60, gpu_type="SLOW")], "fifo")
    rec = by_id(res)["f"]
    assert (rec.end_time, rec.state) == (60, "timed_out")


def test_walltime_limits_each_run_of_a_preempted_job() -> None:
    """srtf, 1 node × 1 GPU, no checkpoint loss. k (500 s of work, walltime 200) starts at 0; n (100 s) at
    t=10 has less left than k (490 s) → k is preempted at 10 (grace 0) and n runs 10..110. k restarts at 110
    with 490 s left; its walltime counts from this run's start → killed at 110 + 200 = 310."""
    jobs = [job("k", 1, 0, 500, 200), job("n", 1, 10, 100, 100)]
    res = run("1x1", jobs, "srtf")
    rec = by_id(res)
    assert segments(res, "k") == [(0, 10), (110, 310)]
    assert (rec["k"].state, rec["n"].start_time) == ("timed_out", 10)


@pytest.mark.parametrize("policy", ["fairshare", "las", "srtf"])
def test_gpus_freed_for_a_preemptor_are_kept_for_it(policy: str) -> None:
    """2 nodes × 8 GPUs; no checkpoint loss.

    * lo1 (6 GPUs, grace 30) → n0 and lo2 (6 GPUs, grace 20) → n1, both priority 0, at t=0, 1000 s each.
    * hi: priority 10, 10 GPUs = 2 nodes × 5, at t=10 → needs GPUs of both → preempts both at 10.
    * lo2 stops at 30. Its GPUs on n1 are kept for hi: lo2 must not restart there (which would make hi
      preempt it again when lo1 is gone, and so on). lo1 stops at 40 → hi runs 40..140.
    * At 140 both restart: lo1 with 1000-40 = 960 s left → 1100; lo2 with 970 s left → 1110.
    """
    jobs = [job("lo1", 6, 0, 1000, 5000, grace=30), job("lo2", 6, 0, 1000, 5000, grace=20),
            job("hi", 10, 10, 100, 100, priority=10)]
    res = run("2x8", jobs, policy)
    assert starts(res)["hi"] == 40
    assert segments(res, "lo1") == [(0, 40), (140, 1100)]
    assert segments(res, "lo2") == [(0, 30), (140, 1110)]
    assert res.preemptions == 2


def test_srtf_without_known_durations_orders_by_walltime() -> None:
    """As the live server: ``srtf`` sees only walltimes when the replay does not tell it the true durations.
    1 node × 4 GPUs; A (4 GPUs, 100 s, walltime 1,000) and B (4 GPUs, 300 s, walltime 400) at t=0: the oracle
    runs A first (shorter), the walltimes say B."""
    from gpucloud.sim.engine import SimConfig, simulate

    jobs = [job("A", 4, 0, 100, 1000), job("B", 4, 0, 300, 400)]
    oracle = simulate(parse_inline("1x4"), jobs, "srtf", config=SimConfig(checkpoint_interval=0))
    live = simulate(parse_inline("1x4"), jobs, "srtf",
                    config=SimConfig(checkpoint_interval=0, known_durations=False))
    assert starts(oracle) == {"A": 0, "B": 100}
    assert starts(live) == {"A": 300, "B": 0}
