"""Fair share's decayed usage outlives one Scheduler when the caller keeps it (the live control loop rebuilds
its scheduler from the database every cycle)."""

from __future__ import annotations

import math

from gpucloud.core.scheduler import Scheduler
from gpucloud.core.state import DecayedUsage
from gpucloud.core.types import PendingJob
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.job import JobSpec


def order_after_history(usage: DecayedUsage | None) -> list[str]:
    """Org "a" held all 8 GPUs of a 1x8 cluster for an hour (t=0..3600) in a first scheduler. A second
    scheduler, built at t=3600 with the same queue of one job from "a" (submitted first) and one from "b",
    orders by fair share: with the history "b" comes first; without it both orgs have a share of 0 and the
    tie goes to the org name, so "a" comes first."""
    cluster = parse_inline("1x8")
    first = Scheduler(cluster, None, "fairshare", usage=usage)
    first.submit(PendingJob(JobSpec("hog", "a", 8, 0.0, 7200.0)))
    assert [a.job_id for a in first.cycle(0.0).admissions] == ["hog"]
    first.cycle(3600.0)  # bring the usage up to t=3600
    first.release("hog", 3600.0)

    second = Scheduler(cluster, None, "fairshare", usage=usage)
    second.submit(PendingJob(JobSpec("a1", "a", 8, 3600.0, 60.0)))
    second.submit(PendingJob(JobSpec("b1", "b", 8, 3600.0, 60.0)))
    return second.cycle(3600.0, explain=True).order


def test_history_carried_over_puts_the_light_org_first() -> None:
    shared = DecayedUsage()
    assert order_after_history(shared) == ["b1", "a1"]
    # 8 GPUs for 3,600 s, decayed with a 7-day half-life: just under 28,800 GPU-seconds.
    a = shared.usage["a"]["H100-80GB"]
    assert 28_700 < a < 28_800


def test_without_history_the_orgs_tie() -> None:
    assert order_after_history(None) == ["a1", "b1"]


def test_runs_that_stopped_between_cycles_are_counted_exactly() -> None:
    """A caller that rebuilds schedulers never shows the new one a run that ended since the last cycle; it
    reports it with ``ran_between``. Org "a" started 8 GPUs at t=0 (cycle at 0), the run ended at t=1800 and
    the next cycle is at t=3600: the usage is the run's 1,800 s decayed to 3,600,
    8 · τ · (e^(−1800/τ) − e^(−3600/τ)) with τ = 7 days / ln 2 — what one long-lived scheduler counts when
    told of the stop at 1800."""
    cluster = parse_inline("1x8")
    tau = 7 * 24 * 3600 / math.log(2)
    expected = 8 * tau * (math.exp(-1800 / tau) - math.exp(-3600 / tau))

    shared = DecayedUsage()
    first = Scheduler(cluster, None, "fairshare", usage=shared)
    first.submit(PendingJob(JobSpec("hog", "a", 8, 0.0, 7200.0)))
    first.cycle(0.0)
    second = Scheduler(cluster, None, "fairshare", usage=shared)   # rebuilt at t=3600: "hog" is gone
    second.ran_between("a", "H100-80GB", 8, 0.0, 1800.0)
    second.cycle(3600.0)
    assert math.isclose(shared.usage["a"]["H100-80GB"], expected, rel_tol=1e-12)

    # Reporting nothing (the bug this guards against) leaves the usage at 0.
    lost = DecayedUsage()
    Scheduler(cluster, None, "fairshare", usage=lost).cycle(0.0)
    Scheduler(cluster, None, "fairshare", usage=lost).cycle(3600.0)
    assert lost.usage.get("a", {}).get("H100-80GB", 0.0) == 0.0


def test_usage_of_an_idle_org_decays_in_a_rebuilt_scheduler() -> None:
    """Org "a" has 10,000 decayed GPU-seconds and holds nothing; a scheduler built a half-life later halves
    them (the live loop's schedulers know only the orgs they hold jobs of, yet every org's usage decays)."""
    half = 7 * 24 * 3600.0
    usage = DecayedUsage({"a": {"H100-80GB": 10_000.0}}, last=0.0)
    Scheduler(parse_inline("1x8"), None, "fairshare", usage=usage).cycle(half)
    assert math.isclose(usage.usage["a"]["H100-80GB"], 5_000.0, rel_tol=1e-12)
