"""Burst: 1,000 one-GPU submissions as fast as possible on the 10,240-GPU example cluster
(``examples/clusters/gpu-cloud-10k.yaml``) with the no-op executor; how long until every job was admitted and
started (``started_at`` from the API; the no-op executor starts a job as soon as it is admitted).

    .venv/bin/python benchmarks/bench_burst.py [--jobs 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import time

from bench_submit import CLIENTS, ROOT, all_jobs, job_counts, member_token, pct, server, submit_many


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--cluster", default=str(ROOT / "examples/clusters/gpu-cloud-10k.yaml"))
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--client", default="lean", choices=CLIENTS)
    ap.add_argument("--workers", type=int, default=None, help="the server's --workers (default: the server's)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    body = {"argv": ["true"], "num_gpus": 1, "walltime": 3600}
    with server(args.cluster, "noop", keep=args.keep, workers=args.workers) as srv:
        token = member_token(srv.url, srv.admin_token)
        run = submit_many(srv.url, token, args.jobs, args.concurrency, body, args.client)
        deadline = time.monotonic() + args.timeout
        while True:
            counts = job_counts(srv.url)
            if counts.get("pending", 0) + counts.get("admitted", 0) == 0:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not all admitted within {args.timeout}s: {counts}")
            time.sleep(0.05)
        jobs = [j for j in all_jobs(srv.url, token) if j["id"] in set(run.ids)]
    starts = [j["started_at"] for j in jobs if j["started_at"] is not None]
    waits = [j["started_at"] - j["submitted_at"] for j in jobs if j["started_at"] is not None]
    print(f"burst: {len(run.ids)} one-GPU jobs on {args.cluster.rsplit('/', 1)[-1]} (noop executor, SQLite), "
          f"submitted in {run.elapsed:.2f}s ({run.rate:,.0f}/s) from {args.concurrency} connections "
          f"({args.client} client, server --workers {args.workers or 'default'})")
    print(f"  all {len(starts)} admitted and started {max(starts) - run.started:.2f}s after the first submit, "
          f"{max(starts) - run.last_ack:.2f}s after the last acknowledged one")
    print(f"  submit-to-start: p50 {pct(waits, 50):.3f}s, p99 {pct(waits, 99):.3f}s")


if __name__ == "__main__":
    main()
