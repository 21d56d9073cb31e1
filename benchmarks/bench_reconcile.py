"""The control loop's reconcile step with 10,000 running jobs: what one tick costs when the executor reports in
batches (the no-op executor: a heap of end times, one ``collect`` per tick).

Builds the server in-process on the 10,240-GPU example cluster (SQLite in a temporary directory), stores 10,000
one-GPU jobs, lets the loop admit and start them all, then measures (p50 / p99 over many ticks, wall time):

- an idle tick: version read, one batched collect, the walltime and signal checks of every running job;
- a tick in which 100 jobs end: the same plus committing their ends (and the scheduling cycle that follows);
- the executor's ``collect`` alone.

    .venv/bin/python benchmarks/bench_reconcile.py [--jobs 10000] [--ticks 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from gpucloud.model.job import JobState
from gpucloud.service.api import create_app
from gpucloud.service.executors.noop import NoopExecutor
from gpucloud.service.loop import ControlLoop, LoopConfig
from gpucloud.service.settings import Settings
from gpucloud.service.store.models import JobEventRow, JobRow, OrgRow, ProjectRow, UserRow

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def store_jobs(ctx: object, n: int, now: float) -> None:
    sessions = ctx.sessions  # type: ignore[attr-defined]
    with sessions.begin() as s:
        org = OrgRow(name="bench", weight=1.0, created_at=now)
        s.add(org)
        s.flush()
        project = ProjectRow(org_id=org.id, name="default", created_at=now)
        user = UserRow(name="bench-user", role="member", org_id=org.id, created_at=now)
        s.add_all([project, user])
        s.flush()
        jobs = [JobRow(org_id=org.id, project_id=project.id, user_id=user.id, name="", argv=["true"], env={},
                       cwd="", num_gpus=1, walltime_s=86_400.0, priority=0, preemptible=True, grace_s=10.0,
                       state=JobState.PENDING.value, reason="submitted", cancel_requested=False,
                       submitted_at=now, queued_at=now, run_count=0, preemptions=0, attained_gpu_s=0.0)
                for _ in range(n)]
        s.add_all(jobs)
        s.flush()
        s.add_all(JobEventRow(job_id=j.id, at=now, to_state="pending", reason="submitted") for j in jobs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--cluster", default=str(ROOT / "examples/clusters/gpu-cloud-10k.yaml"))
    args = ap.parse_args()

    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), cluster_file=args.cluster)
        ctx = create_app(settings, clock=clock).state.gpucloud
        store_jobs(ctx, args.jobs, clock())
        executor = NoopExecutor(delay_s=10 * 86_400.0, clock=clock)
        loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, executor, engine=ctx.engine, clock=clock,
                           config=LoopConfig(policy="fifo"))
        started = time.perf_counter()
        while len(loop.jobs) < args.jobs:
            loop.tick()
            if time.perf_counter() - started > 600:
                raise SystemExit(f"only {len(loop.jobs)} of {args.jobs} running after 600 s")
        print(f"reconcile: {len(loop.jobs):,} running jobs on {Path(args.cluster).name} (no-op executor, SQLite); "
              f"admitted and started in {time.perf_counter() - started:.1f}s")

        idle = []
        for _ in range(args.ticks):
            clock.now += 0.5
            t = time.perf_counter()
            loop.tick()
            idle.append(time.perf_counter() - t)
        collect = []
        watched = loop._watched()
        for _ in range(args.ticks):
            t = time.perf_counter()
            executor.collect(watched)
            collect.append(time.perf_counter() - t)
        ending, reconcile = [], []
        scheduling = [0.0]
        cycle, read = loop._schedule, loop._read

        def timed_cycle(*a: object) -> None:  # the scheduling cycle's share of the tick, to tell them apart
            t0 = time.perf_counter()
            cycle(*a)  # type: ignore[arg-type]
            scheduling[0] += time.perf_counter() - t0

        def timed_read() -> object:  # and its snapshot of the database
            t0 = time.perf_counter()
            snap = read()
            scheduling[0] += time.perf_counter() - t0
            return snap

        loop._schedule = timed_cycle  # type: ignore[method-assign]
        loop._read = timed_read  # type: ignore[method-assign,assignment]
        handles = list(loop.jobs.values())
        for i in range(min(args.ticks, len(handles) // 100)):
            for job in handles[i * 100:(i + 1) * 100]:
                executor.signal(job.handle, 15)
            clock.now += 0.5
            scheduling[0] = 0.0
            t = time.perf_counter()
            loop.tick()
            ending.append(time.perf_counter() - t)
            reconcile.append(ending[-1] - scheduling[0])
        ctx.engine.dispose()

    def show(name: str, values: list[float]) -> None:
        print(f"  {name}: p50 {pct(values, 50) * 1000:.1f} ms, p99 {pct(values, 99) * 1000:.1f} ms, "
              f"mean {statistics.fmean(values) * 1000:.1f} ms over {len(values)} ticks")

    show("idle tick (reconcile only)", idle)
    show("collect of 10,000 watched jobs", collect)
    show("tick in which 100 jobs end, reconcile and commit of the ends", reconcile)
    show("the same tick with the snapshot and scheduling cycle that follow (10,000 running jobs read)", ending)


if __name__ == "__main__":
    main()
