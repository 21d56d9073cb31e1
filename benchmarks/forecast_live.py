"""The live path of start-time forecasts, measured by ``bench_forecast.py --live``: a SQLite database with a queue
and a history of ended jobs, and the server's :class:`~gpucloud.service.forecasts.Forecaster` timed on it (snapshot
read, learning from history, three forward runs)."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from gpucloud.model.cluster_file import load_cluster
from gpucloud.service.forecasts import Forecaster
from gpucloud.service.store import tenants
from gpucloud.service.store.engine import make_engine, make_sessionmaker
from gpucloud.service.store.migrate import upgrade_engine
from gpucloud.service.store.models import JobRow, ProjectRow

T0 = 1_700_000_000.0


def _row(i: int, who: tuple[int, int, int], gpus: int, walltime: float, state: str, **kw: object) -> dict[str, object]:
    org_id, project_id, user_id = who
    return {"org_id": org_id, "project_id": project_id, "user_id": user_id, "name": f"job-{i}", "argv": ["true"],
            "env": {}, "cwd": "", "num_gpus": gpus, "nodes": None, "gpu_type": None, "walltime_s": walltime,
            "priority": 0, "priority_class": "normal", "preemptible": True, "grace_s": 10.0, "state": state,
            "reason": "", "cancel_requested": False, "submitted_at": T0, "queued_at": T0, "started_at": None,
            "ended_at": None, "exit_code": None, "placement": None, "assigned_gpu_type": None, "handle": None,
            "run_count": 0, "preemptions": 0, "attained_gpu_s": 0.0, "queue_rank": None, "idempotency_key": None,
            "service_class": "standard", "reservation_id": None, "row_version": 1, **kw}


def measure_live(cluster_file: Path, pending: int, ended: int, repeat: int) -> None:
    """Seed ``ended`` finished jobs (each ran a random share of its walltime) and ``pending`` waiting ones of 24
    users in 8 orgs, then time a first refresh (which learns the latest 20,000 ended jobs) and ``repeat`` more."""
    rng = random.Random(1)
    cluster = load_cluster(cluster_file)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'gpucloud.db'}")
        upgrade_engine(engine)
        sessions = make_sessionmaker(engine)
        people = []
        with sessions.begin() as s:
            for o in range(8):
                org = tenants.create_org(s, f"org{o}", 1.0, T0)
                project = s.scalar(select(ProjectRow).where(ProjectRow.org_id == org.id))
                assert project is not None
                for u in range(3):
                    user = tenants.create_user(s, f"org{o}-user{u}", "member", org, T0)
                    people.append((org.id, project.id, user.id))
        types = sorted(cluster.gpu_types)
        rows = []
        for i in range(ended + pending):
            who = people[i % len(people)]
            gpus = (1, 1, 2, 4, 8, 16, 64)[rng.randrange(7)]
            wall = (3600.0, 4 * 3600.0, 86400.0)[rng.randrange(3)]
            if i < ended:
                start = T0 - 86400 + i
                rows.append(_row(i, who, gpus, wall, "succeeded", started_at=start,
                                 ended_at=start + wall * rng.random() ** 2, assigned_gpu_type=types[i % len(types)],
                                 run_count=1, exit_code=0))
            else:
                rows.append(_row(i, who, gpus, wall, "pending"))
        with sessions.begin() as s:
            for k in range(0, len(rows), 10_000):
                s.execute(insert(JobRow), rows[k:k + 10_000])
        forecaster = Forecaster(sessions, lambda: cluster, "backfill", lambda: T0, background=False)
        t0 = time.perf_counter()
        first = forecaster.refresh()
        took = time.perf_counter() - t0
        again = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            forecaster.refresh()
            again.append(time.perf_counter() - t0)
        engine.dispose()
    known = sum(1 for f in first.jobs.values() if f.start is not None)
    print(f"\nlive path: {pending:,} pending and {ended:,} ended jobs in SQLite, {cluster.total_gpus:,} GPUs "
          f"({cluster.name}), backfill: first refresh {took:.2f} s (learned {first.learned:,} runs); later ones "
          f"best {min(again):.2f} s, median {statistics.median(again):.2f} s of {repeat}; {known:,} starts forecast")
