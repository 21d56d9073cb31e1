"""What budgets cost the control loop as the ledger grows: a store with 100 projects and a ledger of N settled
runs (hold, release, charge: 3 entries each), 10,000 pending jobs; times the snapshot the loop reads every cycle
(it finds the jobs that cannot pay, reading the state of every project with pending jobs) and one ledger-state
load for the 100 projects (what every admission or settle transaction does).

    .venv/bin/python benchmarks/bench_ledger.py [--runs 10000,100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select

from gpucloud.model.job import JobState
from gpucloud.service.api import create_app
from gpucloud.service.budgets import load_state, project_key
from gpucloud.service.control.snapshot import read_snapshot
from gpucloud.service.settings import Settings
from gpucloud.service.store.models import JobRow, LedgerEntryRow, OrgRow, ProjectRow, UserRow

TARIFF = {"tariffs": [{"name": "t", "valid_from": 0, "points_per_gpu_hour": {"H100-80GB": "2"},
                       "service_classes": {"standard": "1"}}]}


def build(url: str, data: Path, runs: int) -> tuple[object, dict[int, str]]:
    app = create_app(Settings(data_dir=data, database_url=url, cluster_file="1280x8:H100"))
    ctx = app.state.gpucloud
    from gpucloud.money.tariff_file import tariffs_from_dict
    from gpucloud.service.budgets import add_tariffs, top_up
    with ctx.sessions.begin() as s:
        add_tariffs(s, tariffs_from_dict(TARIFF), 0.0)
        admin = s.scalar(select(UserRow))
        assert admin is not None
        projects = []
        for i in range(100):
            org = OrgRow(name=f"org{i:02d}", weight=1.0, created_at=0.0)
            s.add(org)
            s.flush()
            p = ProjectRow(org_id=org.id, name="default", created_at=0.0)
            s.add(p)
            s.flush()
            projects.append(p)
            top_up(s, p, Decimal(10**9), 0.0)
        rows = []
        for k in range(runs):
            p = projects[k % 100]
            ref = f"{100_000 + k}#1"
            rows += [{"project_id": p.id, "kind": "hold", "amount": Decimal(4), "ref": ref, "at": 1.0,
                      "subsidy": Decimal(0), "programme": "", "note": "", "detail": None},
                     {"project_id": p.id, "kind": "release", "amount": Decimal(4), "ref": ref, "at": 2.0,
                      "subsidy": Decimal(0), "programme": "", "note": "", "detail": None},
                     {"project_id": p.id, "kind": "charge", "amount": Decimal(1), "ref": ref, "at": 2.0,
                      "subsidy": Decimal(0), "programme": "", "note": "", "detail": None}]
            if len(rows) >= 30_000:
                s.execute(insert(LedgerEntryRow), rows)
                rows = []
        if rows:
            s.execute(insert(LedgerEntryRow), rows)
        jobs = [{"org_id": projects[i % 100].org_id, "project_id": projects[i % 100].id, "user_id": admin.id,
                 "name": "", "argv": ["true"], "env": {}, "cwd": "", "num_gpus": 1, "walltime_s": 3600.0,
                 "priority": 0, "priority_class": "normal", "preemptible": True, "grace_s": 10.0,
                 "state": JobState.PENDING.value, "reason": "", "cancel_requested": False, "submitted_at": 3.0,
                 "queued_at": 3.0, "run_count": 0, "preemptions": 0, "attained_gpu_s": 0.0, "row_version": 1,
                 "service_class": "standard"} for i in range(10_000)]
        s.execute(insert(JobRow), jobs)
    keys = {p.id: project_key(f"org{i:02d}", "default") for i, p in enumerate(projects)}
    return ctx, keys


def timed(fn: object, n: int = 5) -> float:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="10000,100000")
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    print(f"{'settled runs':>12} {'entries':>9} {'snapshot ms':>12} {'  of it: no money':>18} {'state ms':>9}")
    for runs in (int(x) for x in args.runs.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{tmp}/bench.db"
            ctx, keys = build(url, Path(tmp), runs)
            sessions = ctx.sessions  # type: ignore[attr-defined]

            def snap(now: float | None) -> None:
                with sessions() as s:
                    read_snapshot(s, now=now)

            def state() -> None:
                with sessions() as s:
                    load_state(s, keys, lock=False)

            with_money, without = timed(lambda: snap(10.0)), timed(lambda: snap(None))
            print(f"{runs:>12,} {3 * runs + 100:>9,} {with_money * 1000:>12.0f} {without * 1000:>18.0f} "
                  f"{timed(state) * 1000:>9.0f}", flush=True)
            ctx.engine.dispose()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
