"""Summary figures of a run, checked against values worked out by hand (written down in each test)."""

from __future__ import annotations

import json
import math

import pytest

from gpucloud.core.types import Placement
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.job import JobSpec
from gpucloud.sim.engine import SimResult, simulate
from gpucloud.sim.metrics import Stats, jain_index, summarize
from gpucloud.sim.output import fmt_num
from gpucloud.sim.records import JobRecord, Segment, UtilisationBins
from gpucloud.sim.traces import TraceJob


def hand_made() -> SimResult:
    """A 4-GPU cluster (1 node × 4) and four jobs:

    ====  ===  ====  ======  ========  =====  ===  ====  ====  ========
    job   org  GPUs  submit  duration  start  end  wait  JCT   slowdown
    ====  ===  ====  ======  ========  =====  ===  ====  ====  ========
    a     A    2     0       100       0      100  0     100   1.0
    b     A    2     0       100       0      100  0     100   1.0
    c     B    4     50      100       100    200  50    150   1.5
    d     B    1     300     0         300    300  0     0     (duration 0: left out)
    ====  ===  ====  ======  ========  =====  ===  ====  ====  ========
    """
    cluster = parse_inline("1x4")
    jobs = [
        JobRecord("a", "A", 2, 0.0, 100.0, 0.0, 100.0, "succeeded"),
        JobRecord("b", "A", 2, 0.0, 100.0, 0.0, 100.0, "succeeded"),
        JobRecord("c", "B", 4, 50.0, 100.0, 100.0, 200.0, "succeeded", preemptions=1),
        JobRecord("d", "B", 1, 300.0, 0.0, 300.0, 300.0, "timed_out"),
    ]
    def on(*gpus: int) -> Placement:
        return Placement("H100-80GB", ((0, gpus),))

    segs = [
        Segment("a", 0.0, 100.0, on(0, 1), cluster),
        Segment("b", 0.0, 100.0, on(2, 3), cluster),
        Segment("c", 100.0, 200.0, on(0, 1, 2, 3), cluster),
        Segment("d", 300.0, 300.0, on(0), cluster),
    ]
    util = UtilisationBins()
    for s in segs:
        util.add(s.start_time, s.end_time, len(s.gpus))
    return SimResult("fifo", cluster, jobs, segs, util, 800.0, 300.0, 1, 7, 0.25)


def test_waits_and_jcts_by_hand() -> None:
    s = summarize(hand_made())
    # waits sorted [0, 0, 0, 50]: avg 12.5; linear percentiles at rank p/100 × 3:
    # median rank 1.5 → 0; p95 rank 2.85 → 0 + 0.85 × 50 = 42.5; p99 rank 2.97 → 48.5
    assert (s.wait.avg, s.wait.median) == (12.5, 0.0)
    assert s.wait.p95 == pytest.approx(42.5)
    assert s.wait.p99 == pytest.approx(48.5)
    # JCTs sorted [0, 100, 100, 150]: avg 87.5; median rank 1.5 → 100; p95 → 100 + 0.85 × 50 = 142.5; p99 → 148.5
    assert s.jct.avg == 87.5
    assert s.jct.median == 100.0
    assert s.jct.p95 == pytest.approx(142.5)
    assert s.jct.p99 == pytest.approx(148.5)
    assert (s.jobs, s.finished, s.preemptions, s.timed_out, s.cycles, s.wall_time) == (4, 4, 1, 1, 7, 0.25)


def test_utilisation_and_orgs_by_hand() -> None:
    s = summarize(hand_made())
    # busy 2×100 + 2×100 + 4×100 = 800 GPU-s over 4 GPUs × 300 s makespan = 2/3
    assert s.makespan == 300.0
    assert s.total_gpus == 4
    assert s.utilisation == pytest.approx(2 / 3)
    assert s.gpu_hours == pytest.approx(800 / 3600)
    a, b = s.orgs["A"], s.orgs["B"]
    assert (a.jobs, b.jobs) == (2, 2)
    assert a.gpu_hours == pytest.approx(400 / 3600) and b.gpu_hours == pytest.approx(400 / 3600)
    assert a.share == pytest.approx(0.5) and b.share == pytest.approx(0.5)
    assert (a.avg_wait, b.avg_wait) == (0.0, 25.0)
    assert (a.mean_slowdown, b.mean_slowdown) == (1.0, 1.5)  # d (duration 0) left out
    # Jain over (1.0, 1.5): 2.5² / (2 × (1 + 2.25)) = 6.25 / 6.5
    assert s.jain_fairness == pytest.approx(6.25 / 6.5)


def test_jain_index_known_cases() -> None:
    assert jain_index([3.0, 3.0, 3.0]) == 1.0
    assert jain_index([1.0, 0.0, 0.0, 0.0]) == pytest.approx(0.25)  # one of n gets all: 1/n
    assert jain_index([1.0, 2.0, 3.0]) == pytest.approx(36 / 42)
    assert jain_index([]) is None
    assert jain_index([0.0, 0.0]) is None


def test_empty_stats_and_json() -> None:
    assert Stats.of([]) == Stats(None, None, None, None)
    d = summarize(hand_made()).to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["wait"]["avg"] == 12.5
    assert back["orgs"]["B"]["avg_wait"] == 25.0
    assert set(back) >= {"jobs", "wait", "jct", "makespan", "utilisation", "orgs", "jain_fairness",
                         "preemptions", "timed_out", "cycles", "wall_time"}


def test_tiny_simulation_by_hand() -> None:
    """Two whole-cluster jobs of 100 s on 1 × 4 GPUs, submitted at 0 and 10.

    The second starts when the first ends at 100 (wait 90) and ends at 200: JCTs 100 and 190, makespan 200,
    busy 2 × 4 × 100 = 800 GPU-s of 4 × 200 = 800 → utilisation 1.0.
    """
    jobs = [TraceJob(JobSpec("j1", "A", 4, 0.0, 1000.0), 100.0), TraceJob(JobSpec("j2", "B", 4, 10.0, 1000.0), 100.0)]
    s = summarize(simulate(parse_inline("1x4"), jobs, "fifo"))
    assert s.wait.avg == 45.0
    assert s.jct.avg == 145.0
    assert s.makespan == 200.0
    assert s.utilisation == pytest.approx(1.0)
    assert s.orgs["A"].share == pytest.approx(0.5)
    # slowdowns: A 100/100 = 1, B 190/100 = 1.9 → Jain 2.9² / (2 × (1 + 3.61)) = 8.41 / 9.22
    assert s.jain_fairness == pytest.approx(8.41 / 9.22)


@pytest.mark.parametrize(("value", "text"), [(None, ""), (3, "3"), (3.0, "3"), (0.5, "0.5"), (-2.0, "-2"),
                                             (1e20, "1e+20"), (math.pi, repr(math.pi))])
def test_fmt_num(value: float | None, text: str) -> None:
    assert fmt_num(value) == text


def test_utilisation_bins_of_many_spans_equal_adding_each() -> None:
    """The vectorised bins the simulator builds at the end equal the bins of adding each span in turn (random
    spans, some past the 2,048 bins of 60 s so that the width doubles, some empty)."""
    import random

    rng = random.Random(7)
    for n in (1, 3, 200):
        spans = []
        for _ in range(n):
            start = rng.uniform(0, 300_000)
            spans.append((start, start + rng.choice([0.0, rng.uniform(0, 50_000), rng.uniform(0, 1e6)]),
                          rng.randint(1, 8)))
        one_by_one = UtilisationBins()
        for span in spans:
            one_by_one.add(*span)
        at_once = UtilisationBins.of(spans)
        assert at_once.width == one_by_one.width
        assert at_once.busy == pytest.approx(one_by_one.busy, rel=1e-9, abs=1e-6)


def test_share_fairness_by_hand() -> None:
    """One node of 4 GPUs, orgs A and B, hour bins.

    Hour 0: a1 (A) holds 3 GPUs and b1 (B) 1 GPU; a2 (A) and b2 (B) wait all hour → both orgs backlogged, shares
    3/4 and 1/4. Hour 1: a2 runs on all 4, b2 still waits → only B backlogged: no contention. Hour 2: b2 runs.
    Equal weights: x = (3/4)/(1/2) = 1.5 and (1/4)/(1/2) = 0.5 → Jain 2² / (2 × 2.5) = 0.8. With B's weight 3
    (entitled to 3/4): x = 3 and 1/3 → (10/3)² / (2 × (9 + 1/9)) = 0.6098.
    """
    from gpucloud.sim.fairness import jain_share

    cluster = parse_inline("1x4")

    def on(*gpus: int) -> Placement:
        return Placement("H100-80GB", ((0, gpus),))

    jobs = [JobRecord("a1", "A", 3, 0.0, 3600.0, 0.0, 3600.0), JobRecord("b1", "B", 1, 0.0, 3600.0, 0.0, 3600.0),
            JobRecord("a2", "A", 4, 0.0, 3600.0, 3600.0, 7200.0),
            JobRecord("b2", "B", 4, 0.0, 3600.0, 7200.0, 10800.0)]
    segs = [Segment("a1", 0.0, 3600.0, on(0, 1, 2), cluster), Segment("b1", 0.0, 3600.0, on(3), cluster),
            Segment("a2", 3600.0, 7200.0, on(0, 1, 2, 3), cluster),
            Segment("b2", 7200.0, 10800.0, on(0, 1, 2, 3), cluster)]
    assert jain_share(jobs, segs, {"A": 1.0, "B": 1.0}) == pytest.approx(0.8)
    assert jain_share(jobs, segs, {"A": 1.0, "B": 3.0}) == pytest.approx((10 / 3) ** 2 / (2 * (9 + 1 / 9)))
    # Without anybody waiting while another org runs, there is nothing to be fair about.
    assert jain_share(jobs[:2], segs[:2], {}) is None
