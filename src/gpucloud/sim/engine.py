"""The trace-driven simulator: feeds arrivals, completions, grace expiries and wake-ups to the scheduling
core and applies its decisions in simulated time. Deterministic for a given trace, cluster and policy.

Model:
* A job runs ``duration / speed`` seconds on a GPU type of relative ``speed``; a run longer than the walltime
  is stopped at the walltime (state ``timed_out``). The walltime limits each run of the job.
* A preempted job keeps running through its grace period, then stops and goes back to the queue; it keeps
  the work up to its last checkpoint — checkpoints are taken every ``checkpoint_interval`` seconds of each
  run (0 means a checkpoint at the moment it stops, so nothing is lost). If it finishes during the grace
  period it simply finishes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from gpucloud.core.scheduler import Scheduler
from gpucloud.core.state import SchedulerConfig
from gpucloud.core.types import CycleResult, PendingJob, Placement
from gpucloud.model.cluster import Cluster
from gpucloud.model.org import Org
from gpucloud.sim.events import EventLoop, Kind
from gpucloud.sim.records import JobRecord, Segment, UtilisationBins
from gpucloud.sim.traces.base import TraceJob


@dataclass
class SimConfig:
    checkpoint_interval: float = 1800.0
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)


@dataclass(slots=True)
class _Run:
    """A job's life in the simulator."""

    trace: TraceJob
    record: JobRecord
    work_done: float = 0.0  # seconds of speed-1.0 work kept (checkpointed)
    seg_start: float = 0.0
    speed: float = 1.0
    placement: Placement | None = None
    token: int = 0
    preempting: bool = False


@dataclass
class SimResult:
    policy: str
    cluster: Cluster
    jobs: list[JobRecord]
    segments: list[Segment]
    utilisation: UtilisationBins
    busy_gpu_seconds: float
    makespan: float
    preemptions: int
    cycles: int
    wall_time: float


Observer = Callable[[float, CycleResult], None]


class Simulation:
    def __init__(
        self,
        cluster: Cluster,
        jobs: Iterable[TraceJob],
        policy: str,
        orgs: Mapping[str, Org] | None = None,
        config: SimConfig | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.cluster = cluster
        self.config = config or SimConfig()
        self.policy = policy
        self.scheduler = Scheduler(cluster, orgs, policy, self.config.scheduler)
        #: payloads: (job id, run token); the token makes events of an ended run stale
        self.loop: EventLoop[tuple[str, int]] = EventLoop()
        self.observer = observer
        self.runs: dict[str, _Run] = {}
        self.records: list[JobRecord] = []
        self.segments: list[Segment] = []
        self.util = UtilisationBins()
        self.busy = 0.0
        self.preemptions = 0
        self.cycles = 0
        self.finished = 0
        self._wake: float | None = None
        for tj in jobs:
            spec = tj.spec
            if spec.id in self.runs:
                raise ValueError(f"duplicate job id {spec.id!r}")
            rec = JobRecord(spec.id, spec.org, spec.num_gpus, spec.submit_time, tj.duration)
            self.runs[spec.id] = _Run(tj, rec)
            self.records.append(rec)
            self.loop.push(spec.submit_time, Kind.ARRIVAL, (spec.id, 0))

    # -- events -----------------------------------------------------------------------------------------
    def _handle(self, kind: int, payload: tuple[str, int]) -> None:
        now = self.loop.now
        if kind == Kind.ARRIVAL:
            run = self.runs[payload[0]]
            self.scheduler.submit(PendingJob(run.trace.spec, 0.0, run.trace.duration, now))
        elif kind == Kind.WAKE:
            self._wake = None
        else:
            jid, token = payload
            run = self.runs[jid]
            if token != run.token or run.placement is None:
                return  # stale: the run it was for has ended
            if kind == Kind.FINISH:
                self._finish(run, now)
            else:
                self._requeue(run, now)

    def _end_segment(self, run: _Run, now: float) -> None:
        placement = run.placement
        assert placement is not None
        self.segments.append(Segment(run.trace.spec.id, run.seg_start, now, placement, self.cluster))
        self.util.add(run.seg_start, now, placement.gpus)
        self.busy += placement.gpus * (now - run.seg_start)
        run.placement = None
        run.token += 1
        run.preempting = False

    def _finish(self, run: _Run, now: float) -> None:
        done = run.work_done + (now - run.seg_start) * run.speed
        run.record.state = "succeeded" if done >= run.trace.duration - 1e-6 else "timed_out"
        run.record.end_time = now
        self._end_segment(run, now)
        self.scheduler.release(run.trace.spec.id, now)
        self.finished += 1

    def _requeue(self, run: _Run, now: float) -> None:
        ran = now - run.seg_start
        interval = self.config.checkpoint_interval
        kept = ran if interval <= 0 else math.floor(ran / interval) * interval
        run.work_done += kept * run.speed
        assert run.placement is not None
        attained = self.scheduler.state.running[run.trace.spec.id].attained(now)
        self._end_segment(run, now)
        remaining = max(0.0, run.trace.duration - run.work_done)
        self.scheduler.requeue(run.trace.spec.id, now, attained=attained, remaining=remaining)

    # -- decisions --------------------------------------------------------------------------------------
    def _cycle(self, now: float) -> None:
        result = self.scheduler.cycle(now)
        self.cycles += 1
        if not (result.admissions or result.preemptions or result.wake_at is not None or self.observer):
            return
        for adm in result.admissions:
            run = self.runs[adm.job_id]
            spec = run.trace.spec
            run.placement = adm.placement
            run.seg_start = now
            run.speed = self.cluster.gpu_types[adm.placement.gpu_type].speed
            run.token += 1
            rec = run.record
            if rec.start_time is None:
                rec.start_time = now
                rec.racks = adm.placement.racks(self.cluster)
                rec.blocks = adm.placement.blocks(self.cluster)
            need = max(0.0, run.trace.duration - run.work_done) / run.speed
            self.loop.push(now + min(need, spec.walltime), Kind.FINISH, (spec.id, run.token))
        for pre in result.preemptions:
            run = self.runs[pre.job_id]
            run.preempting = True
            run.record.preemptions += 1
            self.preemptions += 1
            self.loop.push(now + run.trace.spec.grace, Kind.GRACE_END, (pre.job_id, run.token))
        if result.wake_at is not None and (self._wake is None or result.wake_at < self._wake):
            self._wake = result.wake_at
            self.loop.push(result.wake_at, Kind.WAKE, ("", 0))
        if self.observer is not None:
            self.observer(now, result)

    def step(self) -> bool:
        return self.loop.step(self._handle, self._cycle)

    def run(self, progress: Callable[[int, int], None] | None = None) -> SimResult:
        started = time.perf_counter()
        total = len(self.records)
        last = -1
        while self.step():
            if progress is not None and self.finished != last and (self.finished % 512 == 0 or
                                                                   self.finished == total):
                last = self.finished
                progress(self.finished, total)
        if progress is not None:
            progress(self.finished, total)
        makespan = max((r.end_time for r in self.records if r.end_time is not None), default=0.0)
        return SimResult(self.policy, self.cluster, self.records, self.segments, self.util, self.busy,
                         makespan, self.preemptions, self.cycles, time.perf_counter() - started)


def simulate(
    cluster: Cluster,
    jobs: Iterable[TraceJob],
    policy: str,
    orgs: Mapping[str, Org] | None = None,
    config: SimConfig | None = None,
    observer: Observer | None = None,
) -> SimResult:
    """Replay ``jobs`` on ``cluster`` under ``policy`` and return the output rows."""
    return Simulation(cluster, jobs, policy, orgs, config, observer).run()
