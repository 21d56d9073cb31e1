"""Replay a whole trace with every policy and print the simulator's wall time, CPU time and peak memory.

Each policy runs in its own process, so the peak resident memory is that policy's alone. ``--tariff`` prices
the replay (and ``--budgets`` enforces budgets), to measure what money costs the simulator.

    .venv/bin/python benchmarks/bench_replay.py [--cluster examples/clusters/philly.yaml]
        [--trace ../shared/traces/philly.csv] [--policy fifo,backfill,...] [--limit N]
        [--tariff examples/tariffs/philly.yaml [--budgets examples/budgets/philly.yaml]]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster", default=str(ROOT / "examples/clusters/philly.yaml"))
    ap.add_argument("--trace", default=str(ROOT.parent / "shared/traces/philly.csv"))
    ap.add_argument("--policy", default="fifo,backfill,fairshare,las,srtf")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--tariff", default=None, help="price the replay with this tariff file")
    ap.add_argument("--budgets", default=None, help="and enforce these budgets (needs --tariff)")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
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
