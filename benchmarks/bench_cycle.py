"""One scheduling cycle at the scale that matters: the 10,240-GPU example cloud, 100 orgs, about 1,500 running
and 10,000 pending jobs. Each measured cycle follows one job completion (as in real life), so the cycle has
work to do: place what fits, reserve, preempt. Prints p50 / p99 / max per policy.

``--bookings N`` adds N reservations of 4 nodes each (half with their window open, owned by org00..; half
opening in two days) and marks 8 nodes down; 1 in 20 waiting jobs of a booking's org names it. That measures
what the fence (core/bookings.py) costs a cycle.

    .venv/bin/python benchmarks/bench_cycle.py [--cycles 200] [--policy fifo,backfill,...] [--bookings 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from gpucloud.core.bookings import Booking
from gpucloud.core.policies import POLICIES
from gpucloud.core.scheduler import Scheduler
from gpucloud.core.types import PendingJob
from gpucloud.model.cluster_file import load_cluster
from gpucloud.model.job import JobSpec
from gpucloud.model.org import Org

ROOT = Path(__file__).resolve().parent.parent
RUNNING = [0]
SIZES = [1] * 10 + [2] * 4 + [4] * 2 + [8] * 3 + [16, 32, 64]


def job(rng: random.Random, i: int, now: float, orgs: list[str]) -> PendingJob:
    g = rng.choice(SIZES)
    wall = rng.choice([600.0, 3600.0, 4 * 3600.0, 24 * 3600.0])
    spec = JobSpec(f"j{i}", rng.choice(orgs), g, now, wall, priority=rng.choice([0, 0, 0, 0, 10]),
                   preemptible=rng.random() < 0.8)
    return PendingJob(spec, attained=rng.random() * 50_000, remaining=wall * rng.random(), queued_since=now)


def book(s: Scheduler, count: int) -> dict[str, str]:
    """``count`` bookings of 4 nodes each, and 8 nodes down; org → the booking its jobs may name."""
    nodes = [n.index for n in s.cluster.nodes]
    bookings = []
    for k in range(count):
        start, end = (0.0, 1e9) if k % 2 == 0 else (2 * 86400.0, 3 * 86400.0)
        bookings.append(Booking(f"b{k}", f"org{k:02d}", s.cluster.nodes[nodes[4 * k]].gpu_type,
                                tuple(nodes[4 * k:4 * k + 4]), start, end))
    s.set_bookings(bookings)
    s.set_down(nodes[-8:])
    return {b.org: b.id for b in bookings if b.start == 0.0}


def bench(policy: str, cycles: int, seed: int, bookings: int = 0) -> list[float]:
    rng = random.Random(seed)
    cluster = load_cluster(ROOT / "examples/clusters/gpu-cloud-10k.yaml")
    names = [f"org{i:02d}" for i in range(100)]
    types = list(cluster.gpus_by_type)
    orgs = {n: Org(n, weight=rng.choice([1.0, 2.0]), quota={types[i % len(types)]: 64})
            for i, n in enumerate(names)}
    s = Scheduler(cluster, orgs, policy)
    i = 0
    # Fill the cluster: about 1,500 running jobs.
    while True:
        for _ in range(200):
            s.submit(job(rng, i, 0.0, names))
            i += 1
        if not s.cycle(0.0).admissions:
            break
    for jid in list(s.state.pending):
        s.cancel_pending(jid)
    named = book(s, bookings) if bookings else {}

    def submit(now: float) -> None:
        nonlocal i
        j = job(rng, i, now, names)
        res = named.get(j.spec.org)
        if res is not None and rng.random() < 0.05:
            spec = j.spec
            gpu_type = next(b.gpu_type for b in s.state.bookings.values() if b.id == res)
            j = PendingJob(JobSpec(spec.id, spec.org, min(spec.num_gpus, 8), now, 3600.0, gpu_type=gpu_type,
                                   reservation=res), queued_since=now)
        s.submit(j)
        i += 1

    # 10,000 waiting.
    for _ in range(10_000):
        submit(1.0)
    RUNNING[0] = len(s.state.running)
    times: list[float] = []
    now = 2.0
    for _ in range(cycles):
        victim = rng.choice(sorted(s.state.running))
        s.release(victim, now)
        t0 = time.perf_counter()
        res = s.cycle(now)
        times.append(time.perf_counter() - t0)
        for p in res.preemptions:
            s.requeue(p.job_id, now)
        while len(s.state.pending) < 10_000:
            submit(now)
        now += 1.0
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--policy", default=",".join(POLICIES.names()))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bookings", type=int, default=0)
    args = ap.parse_args()
    print(f"{'policy':<10} {'running':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for pol in args.policy.split(","):
        t = sorted(bench(pol, args.cycles, args.seed, args.bookings))
        p50 = statistics.median(t) * 1000
        p99 = t[min(len(t) - 1, int(0.99 * len(t)))] * 1000
        print(f"{pol:<10} {RUNNING[0]:>8} {p50:8.2f} {p99:8.2f} {t[-1] * 1000:8.2f}", flush=True)


if __name__ == "__main__":
    main()
