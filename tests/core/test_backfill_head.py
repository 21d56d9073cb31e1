"""EASY backfill must never delay the head job: the head's reservation is planned on the state of the cycle
that uses it (not reused from an older cycle), and with the time a running job may really hold its GPUs —
its walltime plus its grace period (the live loop sends SIGTERM at the walltime and SIGKILL a grace period
later; the simulator applies the same rule).

Node numbering of ``parse_inline('NxG')``: n0, n1, ...; a single-node job goes to the fitting node with the
fewest free GPUs (the lowest-numbered among equals).
"""

from __future__ import annotations

from typing import Any

from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.job import JobSpec
from gpucloud.sim.engine import SimConfig, simulate
from gpucloud.sim.traces.base import TraceJob


def job(jid: str, gpus: int, submit: float, duration: float, **kw: Any) -> TraceJob:
    """A non-preemptible job whose walltime is its duration unless given."""
    walltime = kw.pop("walltime", duration)
    kw.setdefault("preemptible", False)
    return TraceJob(JobSpec(jid, "a", gpus, submit, walltime, **kw), duration)


def test_a_higher_priority_admission_replans_the_head_reservation() -> None:
    """The issue's reproduction, on 4 nodes × 4 GPUs.

    t=0: A (4 GPUs, 100 s) on n0, B (4, 1000 s) on n1, E (2, 200 s) on n2. H (8 = 2 nodes × 4) does not fit:
    it is the head, reserved at t=100 on n0 (A ends) and n3. C (1, 50 s) ends before then: backfilled on n2.
    t=10: P (4, priority 10) arrives and goes first: it takes n3, which H's old plan counted on. H's plan
    is now n0 + n2 at t=200 (when E ends; C is gone by then). D (1, 5000 s) would sit on n2 until 5010:
    it must wait, else H waits for B until t=1000.
    """
    jobs = [job("A", 4, 0, 100), job("B", 4, 0, 1000), job("E", 2, 0, 200), job("H", 8, 0, 100),
            job("C", 1, 0, 50), job("P", 4, 10, 10_000, priority=10), job("D", 1, 10, 5000)]
    res = simulate(parse_inline("4x4"), jobs, "backfill", config=SimConfig(checkpoint_interval=0))
    starts = {r.job_id: r.start_time for r in res.jobs}
    assert starts["P"] == 10
    assert starts["H"] == 200
    assert starts["D"] >= 200  # not backfilled onto the node H needs


def test_backfill_counts_the_grace_period_of_a_running_job() -> None:
    """1 node × 4 GPUs. R (2 GPUs, walltime 100, grace 60) needs 300 s: SIGTERM at 100, SIGKILL at 160, so its
    GPUs are free at 160, not 100. H (4 GPUs) is the head, reserved at 160. S (2 GPUs, walltime 130) would end
    at 130 <= 160 and backfills; T (2 GPUs, walltime 150, grace 30) may hold its GPUs until 180 > 160 and waits.
    """
    jobs = [job("R", 2, 0, 300, walltime=100, grace=60), job("H", 4, 0, 50),
            job("T", 2, 0, 150, grace=30), job("S", 2, 0, 130)]
    res = simulate(parse_inline("1x4"), jobs, "backfill", config=SimConfig(checkpoint_interval=0))
    rec = {r.job_id: r for r in res.jobs}
    # R holds its GPUs through the grace period after its walltime, and ends timed out.
    assert (rec["R"].start_time, rec["R"].end_time, rec["R"].state) == (0, 160, "timed_out")
    assert rec["S"].start_time == 0
    assert rec["H"].start_time == 160
    assert rec["T"].start_time == 210  # after H


def test_a_job_with_a_long_grace_does_not_backfill_before_the_head() -> None:
    """1 node × 4 GPUs. A (2 GPUs, 100 s) runs; H (4 GPUs) is reserved at 100. B (2 GPUs) asks for 90 s with
    a 50 s grace: it may hold its GPUs until 140 > 100, so it must wait (it would delay H if it overran)."""
    jobs = [job("A", 2, 0, 100), job("H", 4, 0, 100), job("B", 2, 0, 200, walltime=90, grace=50)]
    res = simulate(parse_inline("1x4"), jobs, "backfill", config=SimConfig(checkpoint_interval=0))
    starts = {r.job_id: r.start_time for r in res.jobs}
    assert starts["H"] == 100
    assert starts["B"] == 200
