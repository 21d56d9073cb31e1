"""One scheduling cycle at the scale that matters: the 10,240-GPU example cloud, 100 orgs, about 1,500 running
and 10,000 pending jobs. Each measured cycle follows one job completion (as in real life), so the cycle has
work to do: place what fits, reserve, preempt. Prints p50 / p99 / max per policy.

    .venv/bin/python benchmarks/bench_cycle.py [--cycles 200] [--policy fifo,backfill,...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

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


def bench(policy: str, cycles: int, seed: int) -> list[float]:
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
    # 10,000 waiting.
    for _ in range(10_000):
        s.submit(job(rng, i, 1.0, names))
        i += 1
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
            s.submit(job(rng, i, now, names))
            i += 1
        now += 1.0
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--policy", default=",".join(POLICIES.names()))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"{'policy':<10} {'running':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for pol in args.policy.split(","):
        t = sorted(bench(pol, args.cycles, args.seed))
        p50 = statistics.median(t) * 1000
        p99 = t[min(len(t) - 1, int(0.99 * len(t)))] * 1000
        print(f"{pol:<10} {RUNNING[0]:>8} {p50:8.2f} {p99:8.2f} {t[-1] * 1000:8.2f}", flush=True)


if __name__ == "__main__":
    main()
