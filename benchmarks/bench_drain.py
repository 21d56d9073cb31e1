"""Drain: 1,000 one-GPU jobs running ``true`` on a 16 × 8 cluster through a real executor (the real
``gpucloud server`` as a subprocess, SQLite). Submits them from 8 connections, then waits until all ended.

Prints the time from the first and the last acknowledged submit until the last job ended (``ended_at`` from the
API), starts per second, and the submit-to-start p50 / p99 (``started_at - submitted_at`` of each job).

- ``--executor local`` (the default), ``noop``, or ``ray``: a real Ray cluster of ``--ray-nodes`` nodes on this
  machine (``tests/e2e/ray_cluster.py``), one gpucloud node per Ray node, ``--ray-gpus`` GPUs each (default: 128
  GPUs in all, as the 16 × 8 of the others; the cluster is ``N x G``).
- ``--compare``: local, Ray and the Slurm peer (``../shared/peers/slurm/``, started with its ``start-slurm.sh``;
  1,000 ``sbatch --wrap=true`` from 8 shells on 16 nodes × 8 GPUs) in one run, one table.

    .venv/bin/python benchmarks/bench_drain.py [--jobs 1000] [--concurrency 8] [--executor ray] [--compare]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_submit import CLIENTS, all_jobs, job_counts, member_token, pct, server, submit_many

ROOT = Path(__file__).resolve().parents[1]
SLURM_PEER = ROOT.parent / "shared" / "peers" / "slurm"
TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


def drain(args: argparse.Namespace, executor: str, cluster: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    body = {"argv": ["true"], "num_gpus": 1, "walltime": 600}
    with server(cluster, executor, keep=args.keep, workers=args.workers, extra=extra) as srv:
        token = member_token(srv.url, srv.admin_token)
        run = submit_many(srv.url, token, args.jobs, args.concurrency, body, args.client)
        deadline = time.monotonic() + args.timeout
        while True:
            counts = job_counts(srv.url)
            if sum(counts.get(s, 0) for s in TERMINAL) >= len(run.ids):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not drained within {args.timeout}s: {counts}")
            time.sleep(0.05)
        jobs = [j for j in all_jobs(srv.url, token) if j["id"] in set(run.ids)]
    starts = sorted(j["started_at"] for j in jobs if j["started_at"] is not None)
    last_end = max(j["ended_at"] for j in jobs)
    waits = sorted(j["started_at"] - j["submitted_at"] for j in jobs if j["started_at"] is not None)
    failed = [j for j in jobs if j["state"] != "succeeded"]
    return {"executor": executor, "cluster": cluster, "jobs": len(jobs), "submit_s": run.elapsed,
            "submit_rate": run.rate, "after_last_ack_s": last_end - run.last_ack,
            "first_submit_to_done_s": last_end - run.started, "starts_per_s": len(starts) / (starts[-1] - run.started),
            "p50": pct(waits, 50), "p99": pct(waits, 99), "failed": failed}


def show(r: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"drain: {r['jobs']} jobs of `true` ({r['executor']} executor, {r['cluster']}, SQLite), submitted in "
          f"{r['submit_s']:.2f}s ({r['submit_rate']:,.0f}/s) from {args.concurrency} connections")
    print(f"  all finished {r['after_last_ack_s']:.2f}s after the last acknowledged submit "
          f"({r['first_submit_to_done_s']:.2f}s after the first submit); {r['starts_per_s']:,.0f} starts/s")
    print(f"  submit-to-start: p50 {r['p50']:.3f}s, p99 {r['p99']:.3f}s")
    if r["failed"]:
        f = r["failed"][0]
        print(f"  NOT succeeded: {len(r['failed'])} (e.g. job {f['id']}: {f['state']} {f['reason']})")


def ray_drain(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from ray_cluster import RayNodes

    names = [f"b0-r0-n{i}" for i in range(args.ray_nodes)]
    gpus = args.ray_gpus or 128 // args.ray_nodes
    nodes = RayNodes(gpus=gpus)
    try:
        nodes.start(names)
        return drain(args, "ray", f"{args.ray_nodes}x{gpus}:H100",
                     ("--ray-address", nodes.address, "--ray-agent-dir", nodes.agent_dir))
    finally:
        nodes.stop()


def slurm_drain(args: argparse.Namespace) -> dict[str, Any]:
    """The Slurm peer's own benchmark, one repetition of its trivial jobs from 8 shells (its numbers come from
    slurmctld's log)."""
    env = {**os.environ, "N_TRIVIAL": str(args.jobs), "N_SLEEP": "0", "REPS": "1", "PAR": str(args.concurrency)}
    out = subprocess.run(["bash", str(SLURM_PEER / "bench-slurm.sh")], env=env, capture_output=True, text=True,
                         timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"bench-slurm.sh failed (start it with {SLURM_PEER}/start-slurm.sh): {out.stderr[-1000:]}")
    runs = json.loads(out.stdout.strip().splitlines()[-1])["runs"]
    run = next(r for r in runs if r["run"] == f"trivial_par{args.concurrency}_1")
    return {"executor": "slurm", "jobs": run["started"], "first_submit_to_done_s": run["first_submit_to_empty_s"],
            "starts_per_s": run["admissions_per_s_end_to_end"], "p50": run["submit_to_start_p50_s"],
            "p99": run["submit_to_start_p99_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--cluster", default="16x8:H100")
    ap.add_argument("--executor", default="local", choices=["local", "noop", "ray"])
    ap.add_argument("--ray-nodes", type=int, default=4)
    ap.add_argument("--ray-gpus", type=int, default=0, help="GPUs per Ray node (default: 128 in all)")
    ap.add_argument("--compare", action="store_true", help="local, Ray and Slurm in one run")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--client", default="lean", choices=CLIENTS)
    ap.add_argument("--workers", type=int, default=None, help="the server's --workers (default: the server's)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    if not args.compare:
        show(ray_drain(args) if args.executor == "ray" else drain(args, args.executor, args.cluster), args)
        return
    results = [drain(args, "local", args.cluster), ray_drain(args), slurm_drain(args)]
    for r in results[:2]:
        show(r, args)
    print(f"\n{args.jobs} one-GPU `true` jobs, {args.concurrency} submitters, one run:")
    print("| path | first submit → all done | starts/s | submit→start p50 / p99 |")
    print("|---|---:|---:|---:|")
    names = {"local": "gpucloud, local executor (16 × 8)",
             "ray": f"gpucloud, Ray executor ({results[1]['cluster']}: {args.ray_nodes} Ray nodes)",
             "slurm": "Slurm (16 × 8)"}
    for r in results:
        print(f"| {names[r['executor']]} | {r['first_submit_to_done_s']:.1f} s | {r['starts_per_s']:.0f} | "
              f"{r['p50']:.2f} / {r['p99']:.2f} s |")


if __name__ == "__main__":
    main()
