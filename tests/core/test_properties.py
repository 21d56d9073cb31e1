"""Property tests: random small traces on random small clusters, replayed under every policy with every feature
on — priority classes, quotas with borrowing limits, preemption, grace periods and an advance reservation
(booking) that some jobs name.

Checked on the simulator's output rows (segments with ``node/gpu`` labels, job records):

* no GPU is ever held by two jobs at once;
* gangs are all or nothing: every run holds exactly the job's GPUs, in the shape its spec implies, on GPUs of an
  allowed type;
* no job starts before it is submitted; every job ends (but one that names a booking may never start once the
  window is gone); each run is cut by the walltime plus the grace period;
* each org holds at most its quota plus its borrowing limit of each GPU type at every instant (outside its
  booking);
* a job naming a booking runs only on its nodes, inside its window (but for its grace period); no other job
  holds a booked node during the window;
* the driver rebuilt from its exported state before every cycle (as a server reading the database) replays
  exactly as the one that lived through the history.

And on what the core decides in each cycle (the simulator asks it to explain every cycle):

* the head job's EASY reservation (backfill, or a starving job under the other policies) is never delayed by
  the jobs started after it in the same cycle: planned again after the cycle, it is no later;
* fair share: a cycle that preempts nothing leaves no waiting job that stays within its org's guarantee of a
  GPU type and would fit if the borrowers' preemptible jobs on that type were gone;

plus, with one priority class and no quotas, that strict FIFO starts jobs in submission order.

The hypothesis profile is fixed (derandomized, no example database) so the file is deterministic and fast.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpucloud.core.bookings import Booking
from gpucloud.core.lifetime import span, stopping
from gpucloud.core.reservation import earliest_start
from gpucloud.core.state import SchedulerConfig
from gpucloud.core.types import CycleResult, WaitReason
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import cluster_from_dict, parse_inline
from gpucloud.model.job import JobSpec, Shape
from gpucloud.model.org import Org
from gpucloud.sim.engine import SimConfig, SimResult, Simulation
from gpucloud.sim.traces.base import TraceJob

POLICIES = ["fifo", "backfill", "fairshare", "las", "srtf"]

PROFILE = settings(
    derandomize=True,
    database=None,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Small thresholds and limits so that LAS moves jobs between queues and promotes waiting ones, and waiting jobs
#: starve, within these traces.
CONFIG = SimConfig(
    checkpoint_interval=50.0,
    scheduler=SchedulerConfig(las_thresholds=(200.0, 2000.0), las_starve_limit=2.0, las_min_run=60.0,
                              usage_half_life=500.0, starve_after=300.0),
)


def _two_blocks() -> Cluster:
    return cluster_from_dict({
        "name": "two-blocks",
        "blocks": [{"name": "b", "count": 2, "racks": [
            {"name": "r", "count": 2, "nodes": [{"name": "n", "count": 2, "gpus": 4, "gpu_type": "H100-80GB"}]},
        ]}],
    })


def _mixed() -> Cluster:
    return cluster_from_dict({
        "name": "mixed",
        "gpu_types": {"FAST": {"memory_gb": 80, "speed": 2.0}},
        "blocks": [{"racks": [
            {"name": "h", "nodes": [{"name": "n", "count": 2, "gpus": 8, "gpu_type": "H100-80GB"}]},
            {"name": "f", "nodes": [{"name": "n", "count": 3, "gpus": 4, "gpu_type": "FAST"}]},
        ]}],
    })


CLUSTERS: dict[str, Cluster] = {
    "3x4": parse_inline("3x4"),
    "4x8": parse_inline("4x8"),
    "2x8": parse_inline("2x8"),
    "6x2": parse_inline("6x2"),
    "two-blocks": _two_blocks(),
    "mixed": _mixed(),
}


def shape_on(cluster: Cluster, spec: JobSpec, gpu_type: str) -> Shape | None:
    """The job's shape on ``gpu_type`` if the cluster has enough nodes for it, else None."""
    try:
        shape = spec.shape(cluster.max_node_gpus[gpu_type])
    except InputError:
        return None
    big = sum(1 for n in cluster.nodes if n.gpu_type == gpu_type and n.gpus >= shape.per_node)
    return shape if big >= shape.nodes else None


def allowed_types(cluster: Cluster, spec: JobSpec) -> list[str]:
    types = [spec.gpu_type] if spec.gpu_type else list(cluster.gpu_types)
    return [t for t in types if shape_on(cluster, spec, t) is not None]


@dataclass
class Case:
    name: str
    cluster: Cluster
    jobs: list[TraceJob]
    orgs: dict[str, Org]
    bookings: tuple[Booking, ...] = ()


@st.composite
def cases(draw: st.DrawFn, *, priorities: bool = True, quotas: bool = True, bookings: bool = True) -> Case:
    name = draw(st.sampled_from(sorted(CLUSTERS)))
    cluster = CLUSTERS[name]
    types = sorted(cluster.gpu_types)
    org_names = ["a", "b", "c"][: draw(st.integers(1, 3))]
    orgs: dict[str, Org] = {}
    if quotas:
        for o in org_names:
            quota = {t: draw(st.integers(0, 8)) for t in types}
            borrow = {t: draw(st.integers(0, 8)) for t in types}
            if all(quota[t] + borrow[t] == 0 for t in types):
                borrow[types[0]] = 1
            orgs[o] = Org(o, weight=draw(st.sampled_from([1.0, 2.0])), quota=quota, borrow_limit=borrow)
    booking: Booking | None = None
    if bookings and draw(st.booleans()):
        node = draw(st.sampled_from(cluster.nodes))
        same = [n.index for n in cluster.nodes if n.gpu_type == node.gpu_type and n.gpus == node.gpus]
        nodes = tuple(same[: draw(st.integers(1, min(2, len(same))))])
        start = float(draw(st.integers(0, 40)) * 10)
        booking = Booking("r1", draw(st.sampled_from(org_names)), node.gpu_type, nodes, start,
                          start + float(draw(st.integers(5, 30)) * 10))
    jobs: list[TraceJob] = []
    for i in range(draw(st.integers(1, 14))):
        org = draw(st.sampled_from(org_names))
        gpu_type = draw(st.sampled_from([None, *types])) if len(types) > 1 else None
        gpus = draw(st.integers(1, 16))
        duration = float(draw(st.integers(1, 400)))
        walltime = duration * draw(st.sampled_from([1.0, 1.0, 1.5, 3.0, 0.5]))
        spec = JobSpec(
            f"j{i}", org, gpus, float(draw(st.integers(0, 50)) * 10), walltime, gpu_type,
            priority=draw(st.sampled_from([-10, 0, 0, 10])) if priorities else 0,
            preemptible=draw(st.booleans()),
            grace=float(draw(st.sampled_from([0, 0, 30]))),
        )
        if booking is not None and org == booking.org and draw(st.integers(0, 3)) == 0:
            # a job of the booking inside it: its type, at most its nodes' GPUs
            cap = len(booking.nodes) * cluster.nodes[booking.nodes[0]].gpus
            spec = replace(spec, gpu_type=booking.gpu_type, num_gpus=min(gpus, cap), nodes=None,
                           reservation=booking.id)
        ok = allowed_types(cluster, spec)
        if quotas and ok:
            o = orgs[org]
            ok = [t for t in ok if shape_on(cluster, spec, t).gpus <= o.guaranteed(t) + o.borrow_limit[t]]  # type: ignore[union-attr]
        if not ok:  # shrink to something that can run: one node's worth, within the org's ceiling
            t = spec.gpu_type or types[0]
            cap = cluster.max_node_gpus[t]
            if quotas:
                cap = min(cap, orgs[org].guaranteed(t) + orgs[org].borrow_limit[t])
                if cap < 1:
                    if spec.reservation is not None:  # the org may not hold that type at all: no booked job
                        spec = replace(spec, reservation=None)
                    t = next(t for t in types if orgs[org].guaranteed(t) + orgs[org].borrow_limit[t] > 0)
                    cap = min(cluster.max_node_gpus[t], orgs[org].guaranteed(t) + orgs[org].borrow_limit[t])
            spec = replace(spec, num_gpus=min(spec.num_gpus, cap), gpu_type=t, nodes=None)
            assert allowed_types(cluster, spec) == [t]
        jobs.append(TraceJob(spec, duration))
    return Case(name, cluster, jobs, orgs, () if booking is None else (booking,))


#: More event steps than any of these small traces needs: a replay that goes on is a livelock (e.g. jobs
#: preempting each other for ever), reported as a failure instead of a hanging test.
MAX_STEPS = 5_000


def replay(case: Case, policy: str, observer: object = None, **config: object) -> SimResult:
    sim = Simulation(case.cluster, case.jobs, policy, case.orgs or None,
                     replace(CONFIG, bookings=case.bookings, **config), None)  # type: ignore[arg-type]
    if observer is not None:
        sim.observer = lambda now, result: observer(sim, now, result)  # type: ignore[operator]
    steps = 0
    while sim.step():
        steps += 1
        assert steps < MAX_STEPS, f"{policy}: still running after {steps} steps at t={sim.loop.now}"
    return sim.run()  # nothing left to do: builds the result


def check_basic(case: Case, res: SimResult) -> None:
    """The invariants every policy must keep."""
    cluster = case.cluster
    specs = {j.spec.id: j.spec for j in case.jobs}
    node_of = {n.name: n for n in cluster.nodes}

    # No GPU held by two jobs at once.
    per_gpu: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for s in res.segments:
        assert s.start_time <= s.end_time
        for g in s.gpus:
            per_gpu[g].append((s.start_time, s.end_time, s.job_id))
    for g, spans in per_gpu.items():
        spans.sort()
        for (_s0, e0, j0), (s1, _e1, j1) in pairwise(spans):
            assert s1 >= e0, f"{g} held by {j0} until {e0} and by {j1} from {s1}"

    # Every segment holds exactly the job's GPUs, in its shape, on an allowed type.
    for s in res.segments:
        spec = specs[s.job_id]
        assert len(set(s.gpus)) == len(s.gpus) == spec.num_gpus
        assert s.gpu_type in allowed_types(cluster, spec)
        per_node = Counter(g.split("/")[0] for g in s.gpus)
        assert all(node_of[n].gpu_type == s.gpu_type for n in per_node)
        shape = spec.shape(cluster.max_node_gpus[s.gpu_type])
        assert len(per_node) == shape.nodes
        assert set(per_node.values()) == {shape.per_node}

    # Starts after submission; every job ends; segments lie inside [start, end].
    by_job: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in res.segments:
        by_job[s.job_id].append((s.start_time, s.end_time))
    for rec in res.jobs:
        spec = specs[rec.job_id]
        if spec.reservation is not None and rec.start_time is None:
            continue  # its booking's window went by before it could fit (the live service cancels it)
        assert rec.start_time is not None and rec.end_time is not None, rec
        assert rec.start_time >= spec.submit_time
        assert rec.state in ("succeeded", "timed_out")
        segs = sorted(by_job[rec.job_id])
        assert segs and segs[0][0] == rec.start_time and segs[-1][1] == rec.end_time
        assert 1 <= len(segs) <= rec.preemptions + 1
        for (_a, e), (b, _f) in pairwise(segs):
            assert b >= e
        # Each run is cut by the walltime: stopped then, killed a grace period later at the latest.
        assert all(e - b <= span(spec) + 1e-6 for b, e in segs)
        if rec.state == "timed_out":
            assert spec.walltime - 1e-6 <= segs[-1][1] - segs[-1][0] <= span(spec) + 1e-6

    check_quotas(case, res)
    check_bookings(case, res)


def check_quotas(case: Case, res: SimResult) -> None:
    """Each org holds at most its quota plus its borrowing limit of each type at every instant (the GPUs of its
    jobs inside its own booking are not limited: it has paid for those nodes)."""
    if not case.orgs:
        return
    org_of = {j.spec.id: j.spec.org for j in case.jobs}
    booked = {j.spec.id for j in case.jobs if j.spec.reservation is not None}
    events: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for s in res.segments:
        if s.end_time > s.start_time and s.job_id not in booked:  # zero-length: holds nothing over time
            key = (org_of[s.job_id], s.gpu_type)
            events[key].append((s.start_time, len(s.gpus)))
            events[key].append((s.end_time, -len(s.gpus)))
    for (org, t), evs in events.items():
        ceiling = case.orgs[org].guaranteed(t) + case.orgs[org].borrow_limit[t]
        held = 0
        for when, delta in sorted(evs):  # at equal times, releases (negative) come first
            held += delta
            assert held <= ceiling, f"{org} holds {held} {t} GPUs at {when}, ceiling {ceiling}"


def check_bookings(case: Case, res: SimResult) -> None:
    """A booking's jobs run on its nodes inside its window; nobody else holds its nodes during the window."""
    specs = {j.spec.id: j.spec for j in case.jobs}
    for b in case.bookings:
        booked = {case.cluster.nodes[n].name for n in b.nodes}
        for s in res.segments:
            nodes = {g.split("/")[0] for g in s.gpus}
            spec = specs[s.job_id]
            if spec.reservation == b.id:  # by its walltime: its grace may run past the window
                assert nodes <= booked and b.start <= s.start_time and s.end_time <= b.end + spec.grace, (s, b)
            elif nodes & booked and s.end_time > s.start_time:
                assert s.end_time <= b.start or s.start_time >= b.end, (s.job_id, s.start_time, s.end_time, b)


def check_cycle(sim: Simulation, now: float, result: CycleResult) -> None:
    """What each cycle decided (see the module)."""
    state = sim.driver.scheduler.state
    policy = sim.driver.scheduler.policy
    if result.head_reservation is not None:
        jid, at = result.head_reservation
        assert at >= now
        if jid in state.pending:
            again = earliest_start(state, jid, state.shapes[jid], policy.running_by_end(), now)
            assert again is not None and again.start <= at + 1e-9, (jid, at, again)
    if policy.name == "fairshare" and not (result.admissions or result.preemptions or state.nominated):
        check_reclaim(sim, now, result)


def check_reclaim(sim: Simulation, now: float, result: CycleResult) -> None:
    """No waiting job within its guarantee of a type would fit if that type's borrowed jobs were preempted."""
    state = sim.driver.scheduler.state
    booked = {n for b in state.bookings.values() if b.end > now for n in b.nodes}
    for jid, why in result.waiting.items():
        job = state.pending.get(jid)
        if why != WaitReason.NO_FIT or job is None or job.spec.reservation is not None:
            continue
        org = state.org(job.spec.org)
        for t, shape in state.shapes[jid]:
            if state.used_of(job.spec.org)[t] + shape.gpus > org.guaranteed(t):
                continue
            free = {n: f for n, f in enumerate(state.index.free)
                    if n not in booked and state.cluster.nodes[n].gpu_type == t}
            for r in state.running.values():
                over = state.used_of(r.spec.org)[t] > state.org(r.spec.org).guaranteed(t)
                if (r.placement.gpu_type == t and over and r.spec.preemptible and not r.preempting
                        and not stopping(r, now) and r.spec.org != job.spec.org
                        and r.spec.priority <= job.spec.priority
                        and not any(n in booked for n, _ in r.placement.nodes)):
                    for n, gs in r.placement.nodes:
                        free[n] += len(gs)
            fits = sum(1 for f in free.values() if f >= shape.per_node) >= shape.nodes
            assert not fits, f"{jid} ({job.spec.org}, within its {t} guarantee) could reclaim borrowed GPUs"


@pytest.mark.parametrize("policy", POLICIES)
@PROFILE
@given(case=cases())
def test_invariants_hold_under_every_policy(policy: str, case: Case) -> None:
    check_basic(case, replay(case, policy, check_cycle, explain=True))


@pytest.mark.parametrize("policy", POLICIES)
@settings(PROFILE, max_examples=25)
@given(case=cases())
def test_a_driver_rebuilt_every_cycle_replays_the_same(policy: str, case: Case) -> None:
    lived = replay(case, policy)
    rebuilt = replay(case, policy, rebuild_every_cycle=True)
    assert [(s.job_id, s.start_time, s.end_time, s.placement) for s in rebuilt.segments] == \
        [(s.job_id, s.start_time, s.end_time, s.placement) for s in lived.segments]
    assert rebuilt.jobs == lived.jobs
    assert rebuilt.preemptions == lived.preemptions


@PROFILE
@given(case=cases(priorities=False, quotas=False, bookings=False))
def test_strict_fifo_starts_jobs_in_submission_order(case: Case) -> None:
    res = replay(case, "fifo")
    check_basic(case, res)
    assert res.preemptions == 0
    order = sorted(range(len(case.jobs)), key=lambda i: (case.jobs[i].spec.submit_time, i))
    starts = {r.job_id: r.start_time for r in res.jobs}
    seq = [starts[case.jobs[i].spec.id] for i in order]
    assert seq == sorted(seq)  # type: ignore[type-var]
