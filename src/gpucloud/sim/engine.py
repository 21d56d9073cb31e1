"""The trace-driven simulator: feeds arrivals, ends of runs and wake-ups to the scheduling core through the
cycle driver the live control loop uses too (:class:`gpucloud.core.driver.Driver`), and applies its decisions
in simulated time. Deterministic for a given trace, cluster and policy.

Model:
* A job runs ``duration / speed`` seconds on a GPU type of relative ``speed``. Each run is limited by the
  walltime, with the live loop's rule (:mod:`gpucloud.core.lifetime`): a run still going at its walltime is
  stopped then and its processes end at the latest a grace period later (state ``timed_out``).
* A preempted job keeps running through its grace period, then stops and goes back to the queue; it keeps
  the work up to its last checkpoint — checkpoints are taken every ``checkpoint_interval`` seconds of each
  run (0 means a checkpoint at the moment it stops, so nothing is lost). If it finishes during the grace
  period it simply finishes. The GPU time of the work thrown away is counted (``lost_gpu_seconds``).
* With :attr:`SimConfig.money` every run is priced and budgets are enforced around the scheduling core
  (:mod:`gpucloud.sim.money`): a start the org cannot pay for is undone — the job leaves the scheduler's queue
  and waits for budget — and another cycle runs at once on the GPUs it left free. Its org's waiting jobs go
  back to the queue when a run of the org gives points back, or a new tariff version starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gpucloud.core.bookings import Booking, orphaned
from gpucloud.core.driver import Driver
from gpucloud.core.lifetime import deadline, held_until
from gpucloud.core.state import SchedulerConfig
from gpucloud.core.types import CycleResult, PendingJob, Placement
from gpucloud.model.cluster import Cluster
from gpucloud.model.org import Org
from gpucloud.model.service import ServiceSpec
from gpucloud.money.runs import part_of_a_node
from gpucloud.sim.events import EventLoop, Kind
from gpucloud.sim.gating import Gate, Released
from gpucloud.sim.records import JobRecord, Segment, UtilisationBins
from gpucloud.sim.traces.base import TraceJob

if TYPE_CHECKING:  # money loads only for a priced replay
    from gpucloud.sim.money import Accounts, MoneyConfig
    from gpucloud.sim.money_report import MoneyReport


@dataclass
class SimConfig:
    checkpoint_interval: float = 1800.0
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    #: Price every run and enforce budgets (:mod:`gpucloud.sim.money`); None: no money at all.
    money: MoneyConfig | None = None
    #: The scheduler knows each job's true remaining run time (``srtf``'s oracle); False: it sees only
    #: walltimes, as the live server does.
    known_durations: bool = True
    #: Rebuild the driver from its exported state before every cycle, as a server that reads its state from
    #: the database each cycle would: the replay must not change (the tests prove it; slower).
    rebuild_every_cycle: bool = False
    #: Approved advance reservations (bookings) in force during the replay; jobs name them by id.
    bookings: tuple[Booking, ...] = ()
    #: Ask the core for the whole queue order and every wait reason in each cycle (for observers; slower).
    explain: bool = False
    #: Services served before the queue (:mod:`gpucloud.core.services`); give the replay a first cycle when
    #: they begin (``Simulation.loop.push(t, Kind.WAKE, ("", 0))``): later ones follow their demand.
    services: tuple[ServiceSpec, ...] = ()


@dataclass(slots=True)
class _Run:
    """A job's life in the simulator."""

    trace: TraceJob
    record: JobRecord
    seq: int
    work_done: float = 0.0  # seconds of speed-1.0 work kept (checkpointed)
    seg_start: float = 0.0
    speed: float = 1.0
    placement: Placement | None = None
    token: int = 0
    #: when it last started to wait (submit, or back in the queue after a preemption)
    waiting_since: float = 0.0


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
    #: Costs and budgets (a replay with :attr:`SimConfig.money`), else None.
    money: MoneyReport | None = None
    #: GPU-seconds of work thrown away by preemptions (run since the last checkpoint, grace included)
    lost_gpu_seconds: float = 0.0
    #: per org, what fair share entitles it to: its guaranteed quota (all types) if it has one, else its weight
    entitlement: dict[str, float] = field(default_factory=dict)


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
        self.orgs = orgs
        self.driver = Driver(cluster, orgs, policy, self.config.scheduler)
        if self.config.bookings:
            self.driver.set_bookings(self.config.bookings)
        if self.config.services:
            self.driver.set_services(self.config.services)
        #: payloads: (job id, run token); the token makes events of an ended run stale
        self.loop: EventLoop[tuple[str, int]] = EventLoop()
        self.observer = observer
        self.runs: dict[str, _Run] = {}
        self.records: list[JobRecord] = []
        self.segments: list[Segment] = []
        self.busy = 0.0
        self.lost = 0.0
        self.preemptions = 0
        self.cycles = 0
        self.finished = 0
        self._wake: float | None = None
        arrivals: list[tuple[float, Kind, tuple[str, int]]] = []
        for tj in jobs:
            spec = tj.spec
            if spec.id in self.runs:
                raise ValueError(f"duplicate job id {spec.id!r}")
            rec = JobRecord(spec.id, spec.org, spec.num_gpus, spec.submit_time, tj.duration)
            self.runs[spec.id] = _Run(tj, rec, len(self.records) + 1)
            self.records.append(rec)
            arrivals.append((spec.submit_time, Kind.ARRIVAL, (spec.id, 0)))
        arrivals.sort(key=lambda e: e[0])  # stable: jobs submitted at once arrive in trace order
        self.loop.stream(arrivals)
        #: holds the jobs that wait for others or for their array's throttle (None: the trace has none)
        self.gate = Gate(r.trace for r in self.runs.values()) if any(
            r.trace.batch is not None for r in self.runs.values()) else None
        self.accounts: Accounts | None = None
        #: job id → when a preemption last put it back in the queue (kept only with money)
        self._requeued: dict[str, float] = {}
        #: the bookings whose window has not closed yet, the first to close first
        self._closing = sorted(self.config.bookings, key=lambda b: b.end)
        if self.config.money is not None:
            self._open_accounts(self.config.money)

    def _open_accounts(self, config: MoneyConfig) -> None:
        from gpucloud.sim.money import Accounts, gpu_types_used

        with_gpus, used = gpu_types_used(self.cluster, (r.trace.spec for r in self.runs.values()))
        config.check_priced(used)
        self.accounts = Accounts(config, with_gpus)
        if self.accounts.budgets:
            for t in self.accounts.tariff_changes():
                self.loop.push(t, Kind.BUDGET, ("", 1))

    # -- events -----------------------------------------------------------------------------------------
    def _handle(self, kind: int, payload: tuple[str, int]) -> None:
        now = self.loop.now
        if kind == Kind.END:
            jid, token = payload
            run = self.runs[jid]
            if token == run.token and run.placement is not None:
                self._end(run, now)
        elif kind == Kind.ARRIVAL:
            run = self.runs[payload[0]]
            run.waiting_since = now
            if self.gate is None:
                self._submit(run)
            else:
                self._gated(self.gate.arrive(payload[0]))
        elif kind == Kind.WAKE:
            self._wake = None
        elif kind == Kind.BUDGET and payload[1]:  # a new tariff version: waiting jobs may cost less now
            assert self.accounts is not None
            for org in self.accounts.reprice(now):
                self._retry(org)

    def _end_segment(self, run: _Run, now: float) -> None:
        placement = run.placement
        assert placement is not None
        self.segments.append(Segment(run.trace.spec.id, run.seg_start, now, placement, self.cluster))
        self.busy += placement.gpus * (now - run.seg_start)
        if self.accounts is not None and self.accounts.settle(run.trace.spec.id, now):
            self._retry(run.trace.spec.org)
        run.placement = None
        run.token += 1

    def _end(self, run: _Run, now: float) -> None:
        """The run's processes are gone: it finished its work, or was stopped (walltime, preemption) and its
        grace period is over. Decided as the live loop decides how a job ended."""
        jid = run.trace.spec.id
        core = self.driver.scheduler.state.running[jid]
        ran = now - run.seg_start
        done = run.work_done + ran * run.speed >= run.trace.duration - 1e-6
        if core.preempting and not done:  # preempted: back to the queue with the work it checkpointed
            interval = self.config.checkpoint_interval
            kept = ran if interval <= 0 else math.floor(ran / interval) * interval
            run.work_done += kept * run.speed
            self.lost += (ran - kept) * core.placement.gpus
            attained = core.attained(now)
            self._end_segment(run, now)
            remaining = max(0.0, run.trace.duration - run.work_done) if self.config.known_durations else None
            self.driver.requeue(jid, now, attained=attained, remaining=remaining)
            run.waiting_since = now
            if self.accounts is not None:
                self._requeued[jid] = now
            return
        natural = run.seg_start + (run.trace.duration - run.work_done) / run.speed
        rec = run.record
        rec.state = "succeeded" if done and (core.preempting or natural <= deadline(core) + 1e-6) else "timed_out"
        rec.end_time = now
        self._end_segment(run, now)
        self.driver.finished(jid, now)
        self.finished += 1
        if self.gate is not None:
            self._gated(self.gate.ended(jid, rec.state))

    # -- dependencies and array throttles ---------------------------------------------------------------
    def _submit(self, run: _Run) -> None:
        """Into the core's queue, ranked by its submission as the live queue ranks it."""
        spec = run.trace.spec
        self.driver.submit(PendingJob(spec, 0.0, run.trace.duration if self.config.known_durations else None,
                                      spec.submit_time, run.seq))

    def _gated(self, out: Released) -> bool:
        """Hand the jobs the gate let through to the core, and end those whose dependency can never be met (then
        what depended on them); whether any job went to the core."""
        assert self.gate is not None
        ready = False
        todo = [out]
        while todo:
            step = todo.pop()
            for jid in step.ready:
                self._submit(self.runs[jid])
                ready = True
            for jid in step.never:
                self.runs[jid].record.state = "cancelled"
                self.finished += 1
                todo.append(self.gate.ended(jid, "cancelled"))
        return ready

    # -- budgets ----------------------------------------------------------------------------------------
    def _part_of_a_node(self, placement: Placement) -> bool:
        return part_of_a_node((len(gs), self.cluster.nodes[n].gpus) for n, gs in placement.nodes)

    def _refuse(self, run: _Run, now: float) -> None:
        """Undo the start of a job whose org cannot pay: out of the scheduler, waiting for budget."""
        assert self.accounts is not None
        spec = run.trace.spec
        stopped = self.driver.undo_admission(spec.id, now)
        queued = self._requeued.get(spec.id, spec.submit_time)
        self.accounts.wait(PendingJob(spec, stopped.attained_before, stopped.remaining, queued, run.seq), now)

    def _retry(self, org: str) -> None:
        """Queue again the org's waiting jobs that its available points may now cover."""
        assert self.accounts is not None
        for job in self.accounts.affordable(org):
            self.driver.submit(job)

    # -- decisions --------------------------------------------------------------------------------------
    def _cycle(self, now: float) -> None:
        if self._closing and self._closing[0].end <= now:  # a booking is over: its jobs can never start
            over = []
            while self._closing and self._closing[0].end <= now:
                over.append(self._closing.pop(0))
            for jid in orphaned(self.driver.scheduler.state.pending.values(), over, now):
                self.driver.cancel(jid, now)
                self.runs[jid].record.state = "cancelled"
                self.finished += 1
        if self.config.rebuild_every_cycle:
            self.driver = Driver.restore(self.cluster, self.orgs, self.policy, self.config.scheduler,
                                         self.driver.export())
        result = self.driver.cycle(now, explain=self.config.explain)
        self.cycles += 1
        if not (result.admissions or result.preemptions or result.wake_at is not None or self.observer):
            return
        accounts = self.accounts
        running = self.driver.scheduler.state.running
        loop = self.loop
        refused = False
        for adm in result.admissions:
            run = self.runs[adm.job_id]
            spec = run.trace.spec
            if accounts is not None and not accounts.admit(spec, adm.placement.gpu_type, now,
                                                           self._part_of_a_node(adm.placement)):
                self._refuse(run, now)
                refused = True
                continue
            run.placement = adm.placement
            run.seg_start = now
            run.speed = self.cluster.gpu_types[adm.placement.gpu_type].speed
            run.token += 1
            rec = run.record
            waited = now - run.waiting_since
            rec.waited += waited
            if waited > rec.longest_wait:
                rec.longest_wait = waited
            if rec.start_time is None:
                rec.start_time = now
                rec.racks = adm.placement.racks(self.cluster)
                rec.blocks = adm.placement.blocks(self.cluster)
                if self.gate is not None and self._gated(self.gate.started(spec.id)):
                    loop.push(now, Kind.BUDGET, ("", 0))  # jobs that waited for this start: another cycle now
            natural = now + max(0.0, run.trace.duration - run.work_done) / run.speed
            loop.push(min(natural, held_until(running[spec.id])), Kind.END, (spec.id, run.token))
        for pre in result.preemptions:
            run = self.runs[pre.job_id]
            run.record.preemptions += 1
            self.preemptions += 1
            run.token += 1  # its end moves earlier: the grace period after now
            natural = run.seg_start + max(0.0, run.trace.duration - run.work_done) / run.speed
            loop.push(min(natural, held_until(running[pre.job_id])), Kind.END, (pre.job_id, run.token))
        if result.wake_at is not None and (self._wake is None or result.wake_at < self._wake):
            self._wake = result.wake_at
            loop.push(result.wake_at, Kind.WAKE, ("", 0))
        if refused:  # another cycle now, on the GPUs the refused jobs left free
            loop.push(now, Kind.BUDGET, ("", 0))
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
        money = self.accounts.report(self.records) if self.accounts is not None else None
        util = UtilisationBins.of([(s.start_time, s.end_time, s.placement.gpus) for s in self.segments])
        state = self.driver.scheduler.state
        entitlement = {}
        for name in sorted({r.org for r in self.records}):
            org = state.org(name)
            entitlement[name] = float(sum(org.quota.values())) if org.quota else org.weight
        return SimResult(self.policy, self.cluster, self.records, self.segments, util, self.busy,
                         makespan, self.preemptions, self.cycles, time.perf_counter() - started, money, self.lost,
                         entitlement)


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
