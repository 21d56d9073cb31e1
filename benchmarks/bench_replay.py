"""Replay a whole trace with every policy and print the simulator's wall time, CPU time and peak memory.

Each policy runs in its own process, so the peak resident memory is that policy's alone. ``--tariff`` prices
the replay (and ``--budgets`` enforces budgets), to measure what money costs the simulator.

    .venv/bin/python benchmarks/bench_replay.py [--cluster examples/clusters/philly.yaml]
        [--trace ../shared/traces/philly.csv] [--policy fifo,backfill,...] [--limit N]
        [--tariff examples/tariffs/philly.yaml [--budgets examples/budgets/philly.yaml]]

``--vs-refsim NxG`` measures instead, end to end as a user runs it, ``gpucloud simulate --policy fifo --out DIR``
(reading the trace, replaying, writing every output file and plot) against the minimal strict-FIFO loop
``../shared/peers/limits/refsim.py`` on the same generic-CSV copy of the trace and the same N nodes × G GPUs,
alternately, best of ``--repeat`` runs each (CPU seconds of the child process, and wall seconds):

    .venv/bin/python benchmarks/bench_replay.py --vs-refsim 56x8 [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFSIM = ROOT.parent / "shared/peers/limits/refsim.py"


def one(cluster: str, trace: str, policy: str, limit: int | None, tariff: str | None = None,
        budgets: str | None = None) -> dict[str, float]:
    from gpucloud.model.cluster_file import load_cluster
    from gpucloud.sim.engine import SimConfig, simulate
    from gpucloud.sim.traces import read_trace

    data = read_trace(trace)
    jobs = data.jobs
    if limit:
        jobs = jobs[:limit]
    c = load_cluster(cluster)
    config = None
    if tariff:
        from gpucloud.money.tariff_file import load_tariffs
        from gpucloud.sim.budget_file import load_budgets
        from gpucloud.sim.money import MoneyConfig

        config = SimConfig(money=MoneyConfig(load_tariffs(tariff, c),
                                             load_budgets(budgets, data.orgs) if budgets else None))
    cpu, wall = time.process_time(), time.perf_counter()
    res = simulate(c, jobs, policy, config=config)
    return {
        "jobs": len(jobs),
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "cycles": res.cycles,
        "preemptions": res.preemptions,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; (CPU seconds it used, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def vs_refsim(trace: str, shape: str, repeat: int) -> None:
    from gpucloud.sim.traces import read_trace

    nodes, gpus = shape.lower().split("x")
    with tempfile.TemporaryDirectory() as tmp:
        generic = Path(tmp) / "trace.csv"
        with generic.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(("job_id", "submit_time", "duration", "num_gpus", "org"))
            for j in read_trace(trace).jobs:
                w.writerow((j.spec.id, j.spec.submit_time, j.duration, j.spec.num_gpus, j.spec.org))
        ref = [sys.executable, str(REFSIM), str(generic), nodes, gpus]
        ours = [str(Path(sys.executable).parent / "gpucloud"), "simulate", "--cluster", shape, "--trace",
                str(generic), "--policy", "fifo", "--out", str(Path(tmp) / "out")]
        best = {"refsim": (float("inf"), float("inf")), "gpucloud simulate": (float("inf"), float("inf"))}
        for _ in range(repeat):
            for name, cmd in (("refsim", ref), ("gpucloud simulate", ours)):
                cpu, wall = child(cmd)
                best[name] = (min(best[name][0], cpu), min(best[name][1], wall))
    print(f"strict FIFO, {trace} as generic CSV on {shape}, best of {repeat}")
    print(f"{'':<20} {'cpu s':>8} {'wall s':>8}")
    for name, (cpu, wall) in best.items():
        print(f"{name:<20} {cpu:>8.2f} {wall:>8.2f}")
    r, o = best["refsim"], best["gpucloud simulate"]
    print(f"{'ratio':<20} {o[0] / r[0]:>8.1f} {o[1] / r[1]:>8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster", default=str(ROOT / "examples/clusters/philly.yaml"))
    ap.add_argument("--trace", default=str(ROOT.parent / "shared/traces/philly.csv"))
    ap.add_argument("--policy", default="fifo,backfill,fairshare,las,srtf")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--tariff", default=None, help="price the replay with this tariff file")
    ap.add_argument("--budgets", default=None, help="and enforce these budgets (needs --tariff)")
    ap.add_argument("--vs-refsim", metavar="NxG", default=None,
                    help="compare gpucloud simulate (fifo, end to end) with refsim.py on N nodes x G GPUs")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.vs_refsim:
        vs_refsim(args.trace, args.vs_refsim, args.repeat)
        return
    if args.one:
        print(json.dumps(one(args.cluster, args.trace, args.policy, args.limit, args.tariff, args.budgets)))
        return
    money = f", tariff {args.tariff}" if args.tariff else ""
    money += f", budgets {args.budgets}" if args.budgets else ""
    print(f"cluster {args.cluster}, trace {args.trace}{money}")
    print(f"{'policy':<10} {'jobs':>7} {'wall s':>8} {'cpu s':>8} {'cycles':>8} {'preempt':>8} {'peak MB':>8}")
    for pol in args.policy.split(","):
        cmd = [sys.executable, __file__, "--one", "--cluster", args.cluster, "--trace", args.trace, "--policy", pol]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        for opt in ("tariff", "budgets"):
            if getattr(args, opt):
                cmd += [f"--{opt}", getattr(args, opt)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(f"{pol:<10} {r['jobs']:>7} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} {r['cycles']:>8} "
              f"{r['preemptions']:>8} {r['peak_rss_mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
