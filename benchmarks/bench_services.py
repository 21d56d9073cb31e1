"""What serving services costs a scheduling cycle, at the scale of the 10,240-GPU example cluster.

Two of its ten blocks (2,048 B200 GPUs) are the sites of 16 RAN services (2-GPU replicas, a demand that rises and
falls by 8 replicas every 10 minutes); 2 × ``--running`` one- to eight-GPU preemptible jobs with a 5-minute grace
are submitted (about 3,000 fit the cluster at once; the rest wait, and no job ends by itself). Each measured cycle
moves the clock by 60 s, so falls, rises, victim choices and preemptions happen as in operation; victims are
requeued when their grace ends. Prints the cycle time (p50 / p99) with the services and, for the same jobs,
without them (then nothing changes between cycles: the quiet-cycle shortcut makes them free).

    .venv/bin/python benchmarks/bench_services.py [--cycles 200] [--running 10000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from gpucloud.core.driver import Driver
from gpucloud.core.types import PendingJob
from gpucloud.model.cluster_file import load_cluster
from gpucloud.model.demand import curve
from gpucloud.model.job import JobSpec
from gpucloud.model.service import ServiceClass, ServiceSpec, resolve_sites

ROOT = Path(__file__).resolve().parents[1]


def build(services: bool, running: int, seed: int = 7) -> Driver:
    cluster = load_cluster(ROOT / "examples" / "clusters" / "gpu-cloud-10k.yaml")
    d = Driver(cluster, policy="backfill")
    if services:
        specs = []
        for i in range(16):
            block = f"b{i % 2}"
            points = [(t * 600.0, 40 + 8 * ((t + i) % 6)) for t in range(6)]
            specs.append(ServiceSpec(f"ran-{i}", ServiceClass.RAN, 2, "B200-180GB",
                                     resolve_sites(cluster, [block], "B200-180GB", 2),
                                     curve(points, 0.0, 3600.0), 120.0))
        d.set_services(specs)
    rng = random.Random(seed)
    for i in range(2 * running):
        g = rng.choice((1, 1, 2, 4, 8))
        d.submit(PendingJob(JobSpec(f"j{i}", f"org{i % 8}", g, 0.0, rng.uniform(3600, 86400), grace=300.0)))
    d.cycle(0.0)
    return d


def measure(d: Driver, cycles: int) -> list[float]:
    out = []
    now = 0.0
    for _ in range(cycles):
        now += 60.0
        state = d.scheduler.state
        for jid in [j for j, r in state.running.items() if r.preempting and r.held_until <= now]:
            d.requeue(jid, now)
        t = time.perf_counter()
        d.cycle(now)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--running", type=int, default=10_000)
    a = ap.parse_args()
    for services in (False, True):
        d = build(services, a.running)
        times = measure(d, a.cycles)
        times.sort()
        state = d.scheduler.state
        reps = 0 if state.services is None else len(state.services.all())
        p99 = times[int(len(times) * 0.99) - 1]
        print(f"services={'on ' if services else 'off'} running={len(state.running):,} replicas={reps}: "
              f"cycle p50 {statistics.median(times) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
