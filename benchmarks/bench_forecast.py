"""How accurate and how costly are start-time forecasts? (``docs/forecasts.md``)

**Accuracy.** Replays a window of the Philly trace with walltime requests made as users make them
(:mod:`gpucloud.sim.traces.requests`: rounded up to round values, often the queue maximum of 7 days, each org
with its habits; seeded), and at ``--moments`` moments forecasts every pending job's start from the replay's
exported driver state — what the live service would have — with two run-time predictors: ``walltime`` (every job
runs to its walltime: Slurm's ``squeue --start``) and ``learned`` (quantiles of actual/requested per group,
:mod:`gpucloud.core.forecast.runtimes`; it knows the ``--history`` jobs before the window, as a live service
remembers them, and learns every run that ends during the replay). Each forecast is compared with the start the
replay really gave the job. Printed per cluster size and policy: median and p90 absolute error, the share within
1 and 10 minutes, within 10% of the true wait, within max(10 min, 10%) (the goal), and inside the p10–p90 range.

**Cost.** The forecast (point + range: three forward runs) of 10,000 pending jobs on the 10,240-GPU example
cluster, full of running jobs, with the learned predictor; with ``--live`` also the server's whole path
(``forecast_live.py``: snapshot read from SQLite, learning from 30,000 ended jobs, the forecast).

    .venv/bin/python benchmarks/bench_forecast.py [--trace ../shared/traces/philly.csv] [--clusters 56x8,80x8]
        [--policies fifo,backfill,fairshare] [--start 10000] [--jobs 20000] [--history 10000] [--moments 40]
        [--cost-only | --no-cost] [--live]

Read the trace in place (never copied into the project).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
from pathlib import Path

from gpucloud.core.driver import Driver
from gpucloud.core.forecast.forward import Setup
from gpucloud.core.forecast.queue import forecast_queue
from gpucloud.core.forecast.runtimes import RanJob, RunTimes, WalltimeOnly
from gpucloud.core.types import PendingJob
from gpucloud.model.cluster_file import load_cluster, parse_inline
from gpucloud.sim.forecast_accuracy import Accuracy, measure
from gpucloud.sim.traces import read_trace
from gpucloud.sim.traces.base import TraceJob
from gpucloud.sim.traces.requests import with_requests

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT.parent / "shared" / "traces" / "philly.csv"
BIG = ROOT / "examples" / "clusters" / "gpu-cloud-10k.yaml"


def _row(cluster: str, policy: str, name: str, a: Accuracy, waits: float, cost: float) -> str:
    def m(s: float) -> str:
        return "∞" if not math.isfinite(s) else f"{s / 60:,.0f}"

    return (f"| {cluster} | {policy} | {waits / 60:,.0f} | {name} | {a.samples:,} | {m(a.median_error)} | "
            f"{m(a.p90_error)} | {a.within_1min:.0%} | {a.within_10min:.0%} | {a.within_10pct:.0%} | "
            f"{a.within_goal:.0%} | {a.in_range:.0%} | {cost:.0f} |")


def accuracy(args: argparse.Namespace, jobs: list[TraceJob], history: list[TraceJob]) -> None:
    print("| cluster | policy | median true wait (min) | predictor | forecasts | median error (min) | "
          "p90 error (min) | ≤ 1 min | ≤ 10 min | ≤ 10% of wait | ≤ max(10 min, 10%) | in p10–p90 | "
          "ms per forecast |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.clusters.split(","):
        cluster = parse_inline(size)
        for policy in args.policies.split(","):
            started = time.perf_counter()
            out = measure(cluster, jobs, policy, {"walltime": WalltimeOnly, "learned": RunTimes},
                          moments=args.moments, history=history, clock=time.perf_counter)
            took = time.perf_counter() - started
            ratios = []
            for name, acc in out.accuracy().items():
                samples = out.samples[name]
                waits = statistics.median(s.wait for s in samples) if samples else math.nan
                print(_row(size, policy, name, acc, waits, 1000 * out.cost[name] / max(1, args.moments)))
                ratios.append(acc.median_error)
            gain = ratios[0] / ratios[1] if ratios[1] > 0 else math.inf
            print(f"|  |  |  | learned ÷ walltime median error: {gain:,.1f}× better; replay + forecasts "
                  f"{took:.1f} s |  |  |  |  |  |  |  |  |  |", flush=True)


def cost(args: argparse.Namespace, pool: list[TraceJob]) -> None:
    """10,000 pending jobs behind a full 10,240-GPU cluster, forecast with the learned predictor."""
    cluster = load_cluster(BIG)
    driver = Driver(cluster, policy="backfill")
    learned = RunTimes()
    learned.learn_all(RanJob(j.spec.user, j.spec.project, j.spec.org, j.spec.num_gpus, j.spec.walltime, j.duration)
                      for j in pool)
    for seq, j in enumerate(pool, 1):  # fill the cluster; what does not fit waits
        driver.submit(PendingJob(dataclasses.replace(j.spec, id=f"r{seq}", submit_time=0.0), queued_since=0.0,
                                 seq=seq))
    driver.cycle(0.0)
    state = driver.export()
    state.pending = state.pending[:args.queue]
    if len(state.pending) < args.queue:
        sys.exit(f"only {len(state.pending)} jobs left pending; raise --jobs")
    setup = Setup(cluster, None, "backfill")
    busy = sum(r.placement.gpus for r in state.running)
    print(f"\ncost: {len(state.pending):,} pending jobs, {len(state.running):,} running on {busy:,} of "
          f"{cluster.total_gpus:,} GPUs ({cluster.name}), backfill, learned predictor")
    for ranges in (False, True):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = forecast_queue(setup, state, 100.0, learned, ranges=ranges)
            times.append(time.perf_counter() - t0)
        known = sum(1 for f in out.values() if f.start is not None)
        print(f"  {'point + p10–p90 range (3 forward runs)' if ranges else 'point only (1 forward run)'}: "
              f"best {min(times):.2f} s, median {statistics.median(times):.2f} s of {args.repeat}; "
              f"{known:,} starts within the horizon")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trace", default=str(TRACE))
    ap.add_argument("--clusters", default="56x8,80x8", help="inline sizes, comma-separated")
    ap.add_argument("--policies", default="fifo,backfill,fairshare")
    ap.add_argument("--start", type=int, default=10_000, help="first job of the window (trace order)")
    ap.add_argument("--jobs", type=int, default=20_000, help="jobs in the window")
    ap.add_argument("--history", type=int, default=10_000, help="jobs before the window the learned predictor knows")
    ap.add_argument("--moments", type=int, default=40)
    ap.add_argument("--queue", type=int, default=10_000, help="pending jobs in the cost measurement")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1, help="of the walltime requests")
    ap.add_argument("--cost-only", action="store_true")
    ap.add_argument("--live", action="store_true", help="also the server's whole path: a SQLite database with the "
                    "queue and 30,000 ended jobs, read, learned from and forecast")
    ap.add_argument("--no-cost", action="store_true")
    args = ap.parse_args()
    from gpucloud.sim.traces.requests import RequestModel

    trace = read_trace(args.trace)
    jobs = with_requests(trace.jobs, RequestModel(seed=args.seed))
    window = jobs[args.start:args.start + args.jobs]
    history = jobs[max(0, args.start - args.history):args.start]
    print(f"{Path(args.trace).name}: jobs {args.start:,}–{args.start + len(window):,} of {len(jobs):,}, "
          f"{len(history):,} before them known to the learned predictor; walltime requests seeded {args.seed}; "
          f"{args.moments} moments per replay")
    if not args.cost_only:
        accuracy(args, window, history)
    if not args.no_cost:
        cost(args, jobs[:30_000])
    if args.live:
        from forecast_live import measure_live

        measure_live(BIG, args.queue, 30_000, args.repeat)


if __name__ == "__main__":
    main()
