"""Job arrays at scale: a 10,000-task array submitted in one API call, scheduled, and what it costs the control
loop's cycle.

1. Against a real server (``gpucloud server``, no-op executor, the 10,240-GPU example cluster, SQLite): how long
   the one ``POST /jobs`` of ``array: "0-9999"`` takes, and how long until every task was admitted and started;
   the same with a throttle (``%500``: the array runs 500 tasks at a time), until all ended.
2. In-process, on a database holding 10,000 pending tasks: the loop's snapshot (its reads, and the holds of
   dependencies and throttles among them), the building of the scheduler and one scheduling cycle — for an array
   without a throttle (every task in the cycle), with one (``%100``: 100 in the cycle, 9,900 held), and for 10,000
   tasks that wait for another job (``afterok``: all held).

    .venv/bin/python benchmarks/bench_arrays.py [--tasks 10000] [--repeat 5] [--skip-server]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from bench_submit import ROOT, job_counts, member_token, server
from fastapi.testclient import TestClient

from gpucloud.model.cluster_file import load_cluster
from gpucloud.service.api import create_app
from gpucloud.service.control.snapshot import build_scheduler, read_snapshot
from gpucloud.service.job_holds import holds
from gpucloud.service.settings import Settings

CLUSTER = ROOT / "examples/clusters/gpu-cloud-10k.yaml"


def over_http(tasks: int, throttle: str, timeout: float) -> None:
    with server(str(CLUSTER), "noop") as srv:
        token = member_token(srv.url, srv.admin_token)
        body = {"argv": ["true"], "num_gpus": 1, "walltime": 600, "array": f"0-{tasks - 1}{throttle}"}
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as c:
            started = time.perf_counter()
            r = c.post("/api/v1/jobs", json=body)
            took = time.perf_counter() - started
            assert r.status_code == 201, r.text
        waiting = ("pending", "admitted") if not throttle else ("pending", "admitted", "running")
        deadline = time.monotonic() + timeout
        while True:
            counts = job_counts(srv.url)
            if sum(counts.get(s, 0) for s in waiting) == 0 and sum(counts.values()) >= tasks:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not done within {timeout}s: {counts}")
            time.sleep(0.05)
        done = time.perf_counter() - started
    what = "admitted and started" if not throttle else f"run to their end, {throttle[1:]} at a time"
    print(f"array of {tasks:,} tasks{' ' + throttle if throttle else ''}: one POST /jobs in {took * 1000:.0f} ms "
          f"({tasks / took:,.0f} tasks/s); all {what} {done:.2f} s after the submit")


def p50(f: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def in_process(tasks: int, repeat: int) -> None:
    cluster = load_cluster(str(CLUSTER))
    for label, extra in (("no throttle", {"array": f"0-{tasks - 1}"}),
                         ("throttle %100", {"array": f"0-{tasks - 1}%100"}),
                         ("afterok on a job not ended yet", {"array": f"0-{tasks - 1}", "dependency": "afterok"})):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp) / "data", database_url=f"sqlite:///{tmp}/db.sqlite",
                                cluster_file=str(CLUSTER))
            app = create_app(settings)
            ctx = app.state.gpucloud
            with TestClient(app) as client:
                h = {"Authorization": f"Bearer {ctx.bootstrap_token}"}
                assert client.post("/api/v1/orgs", json={"name": "bench"}, headers=h).status_code == 201
                body = {"argv": ["true"], "num_gpus": 1, "walltime": 600, "org": "bench"}
                if "dependency" in extra:
                    first = client.post("/api/v1/jobs", json=body, headers=h).json()["id"]
                    extra = {**extra, "dependency": f"afterok:{first}"}
                r = client.post("/api/v1/jobs", json={**body, **extra}, headers=h)
                assert r.status_code == 201, r.text
            with ctx.sessions() as session:
                print(f"{tasks:,} pending tasks, {label}: {measure(session, cluster, repeat)}")
            ctx.engine.dispose()


def measure(session: Any, cluster: Any, repeat: int) -> str:
    """The snapshot (and its holds), the scheduler's building and one cycle, medians of ``repeat``."""
    snap_s, snap = p50(lambda: read_snapshot(session, now=time.time()), repeat)
    holds_s, held = p50(lambda: holds(session, snap.pending, snap.active), repeat)
    build_s, _ = p50(lambda: build_scheduler(snap, cluster, "backfill", time.time()), repeat)
    both_s, _ = p50(lambda: build_scheduler(snap, cluster, "backfill", time.time()).scheduler.cycle(
        time.time(), explain=True), repeat)
    return (f"snapshot {snap_s * 1000:.0f} ms (of which holds {holds_s * 1000:.0f} ms, {len(held):,} held), "
            f"scheduler built {build_s * 1000:.0f} ms, cycle {(both_s - build_s) * 1000:.0f} ms "
            f"({len(snap.pending) - len(held):,} tasks in it)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--skip-server", action="store_true", help="only the in-process part")
    args = ap.parse_args()
    if not args.skip_server:
        over_http(args.tasks, "", args.timeout)
        over_http(args.tasks, "%500", args.timeout)
    in_process(args.tasks, args.repeat)


if __name__ == "__main__":
    main()
