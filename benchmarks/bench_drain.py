"""Drain: 1,000 one-GPU jobs running ``true`` on a 16 × 8 cluster with the real local executor (the real
``gpucloud server`` as a subprocess, SQLite). Submits them from 8 connections, then waits until all ended.

Prints the time from the last acknowledged submit until the last job ended (``ended_at`` from the API) and the
submit-to-start p50 / p99 (``started_at - submitted_at`` of each job, from the API).

    .venv/bin/python benchmarks/bench_drain.py [--jobs 1000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import time

from bench_submit import CLIENTS, all_jobs, job_counts, member_token, pct, server, submit_many


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--cluster", default="16x8:H100")
    ap.add_argument("--executor", default="local", choices=["local", "noop"])
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--client", default="lean", choices=CLIENTS)
    ap.add_argument("--workers", type=int, default=None, help="the server's --workers (default: the server's)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    body = {"argv": ["true"], "num_gpus": 1, "walltime": 600}
    with server(args.cluster, args.executor, keep=args.keep, workers=args.workers) as srv:
        token = member_token(srv.url, srv.admin_token)
        run = submit_many(srv.url, token, args.jobs, args.concurrency, body, args.client)
        deadline = time.monotonic() + args.timeout
        terminal = ("succeeded", "failed", "cancelled", "timed_out")
        while True:
            counts = job_counts(srv.url)
            if sum(counts.get(s, 0) for s in terminal) >= len(run.ids):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not drained within {args.timeout}s: {counts}")
            time.sleep(0.05)
        jobs = [j for j in all_jobs(srv.url, token) if j["id"] in set(run.ids)]
    last_end = max(j["ended_at"] for j in jobs)
    waits = [j["started_at"] - j["submitted_at"] for j in jobs if j["started_at"] is not None]
    failed = [j for j in jobs if j["state"] != "succeeded"]
    print(f"drain: {len(jobs)} jobs of `true` ({args.executor} executor, {args.cluster}, SQLite), "
          f"submitted in {run.elapsed:.2f}s ({run.rate:,.0f}/s) from {args.concurrency} connections "
          f"({args.client} client, server --workers {args.workers or 'default'})")
    print(f"  all finished {last_end - run.last_ack:.2f}s after the last acknowledged submit "
          f"({last_end - run.started:.2f}s after the first submit; {len(jobs) / (last_end - run.started):,.0f} jobs/s)")
    print(f"  submit-to-start: p50 {pct(waits, 50):.3f}s, p99 {pct(waits, 99):.3f}s, max {max(waits):.3f}s")
    if failed:
        f = failed[0]
        print(f"  NOT succeeded: {len(failed)} (e.g. job {f['id']}: {f['state']} {f['reason']})")


if __name__ == "__main__":
    main()
