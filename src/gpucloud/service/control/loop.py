"""The :class:`ControlLoop`: a background thread that reconciles, schedules and launches.

One tick (see ``docs/control-loop.md``):

1. read ``scheduler_state.version``; if it changed (or the loop is ``dirty``), read a snapshot and refresh
   the in-memory list of jobs that hold processes;
2. collect from the executor, in one batched call, what happened since the last tick: launches that finished,
   ranks that ended, log bytes, hosts lost or found; commit the starts, copy the logs, send SIGTERM/SIGKILL where
   due (a gang whose rank failed is stopped whole), commit the jobs whose ranks all ended;
3. if the version changed, a job ended, or the core's ``wake_at`` is due: restore the cycle driver (the one the
   simulator uses, ``core/driver.py``) from the snapshot, run one cycle, and apply its decisions (:mod:`.schedule`);
   launches are handed to the executor, which never makes the tick wait for a host.

The loop acts only while it leads (:mod:`.leader`): every write checks its leadership epoch, and a loop that finds
itself fenced steps down and recovers before it acts again.

At the first tick and then every ``expiry_every_s`` (by the loop's clock) it also expires the budgets past
their expiry date (:func:`gpucloud.service.budgets.expire_due`), cancels the pending jobs whose reservation
ended or was rejected (:func:`gpucloud.service.reservations.cancel_orphans`), cancels the pending jobs whose
dependency can never be met (:func:`gpucloud.service.job_holds.dependency_housekeeping`) and saves fair share's
decayed usage (:mod:`gpucloud.service.fairshare_usage`; loaded again at recovery).

A tick with nothing new costs one version read and one executor poll per running job. The thread wakes at
once when :meth:`ControlLoop.wake` is called (the API's ``on_change``), else every ``interval_s``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.core.policies import POLICIES
from gpucloud.core.state import DecayedUsage, SchedulerConfig
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobState
from gpucloud.service import budgets, job_holds, reservations
from gpucloud.service.accounts import NoAccount, RunAs
from gpucloud.service.control import recovery, replicas, schedule
from gpucloud.service.control.handles import handle_from_json
from gpucloud.service.control.leader import Fenced, Leadership
from gpucloud.service.control.logship import LogShipper
from gpucloud.service.control.nodes import apply_node_events
from gpucloud.service.control.reconcile import job_status, merge_exits, outcome, signals
from gpucloud.service.control.snapshot import JobData, Snapshot, build_driver, read_snapshot
from gpucloud.service.control.tracked import Stop, StopKind, Tracked, track
from gpucloud.service.control.txn import JobValues, Transactions, VersionTracker
from gpucloud.service.executors.base import Executor, Handle, Report
from gpucloud.service.fairshare_usage import load_usage, save_usage

log = logging.getLogger("gpucloud.control")

CycleObserver = Callable[[float, bool], None]


@dataclass(frozen=True, slots=True)
class LoopConfig:
    policy: str = "backfill"
    #: seconds between ticks when nothing wakes the loop
    interval_s: float = 0.5
    #: seconds between attempts to become the leader (PostgreSQL)
    leader_retry_s: float = 2.0
    #: after a tick that took t seconds, a wake-up waits max(min_gap_s, t) (at most max_gap_s) before the next
    #: tick, so that a stream of submissions is handled in batches and the loop, which shares the process (and
    #: its GIL) with the API, never takes much more than half of it
    min_gap_s: float = 0.002
    max_gap_s: float = 0.05
    #: server environment variables every job gets unless its own environment sets them
    base_env: tuple[str, ...] = ("PATH", "HOME", "LANG", "LC_ALL", "USER", "TMPDIR")
    #: seconds (of the loop's clock) between two expiry passes over the budgets
    expiry_every_s: float = 60.0
    #: which OS account each job runs as (``--run-as``)
    run_as: RunAs = field(default_factory=RunAs)
    #: bytes of each rank's stdout and stderr kept in the database (the rest stays on the rank's host)
    log_cap_bytes: int = 16 << 20
    #: seconds between two copies of running jobs' logs into the database (longer with many jobs)
    log_every_s: float = 1.0
    #: the scheduling core's settings (LAS promotion, starvation limits...): the simulator's defaults
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)


@dataclass
class LoopStats:
    ticks: int = 0
    #: how many times the cycle driver was restored from the database (one per scheduling cycle)
    scheduler_builds: int = 0
    admitted: int = 0
    launched: int = 0
    launch_failures: int = 0
    ended: int = 0
    errors: int = 0
    last_tick_s: float = 0.0


class ControlLoop:
    """Drives jobs from ``pending`` to their end; ``tick()`` is one step (tests call it directly),
    ``start()``/``stop()`` run it in a thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cluster: Callable[[], Cluster],
        executor: Executor,
        *,
        engine: Engine | None = None,
        clock: Callable[[], float] = time.time,
        config: LoopConfig | None = None,
        on_cycle: CycleObserver | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self.config = config or LoopConfig()
        #: fair share's decayed usage, carried from cycle to cycle; loaded at recovery, saved by housekeeping
        self._usage = DecayedUsage()
        POLICIES.get(self.config.policy)  # an unknown policy fails here, with suggestions
        self.sessions = sessions
        self.cluster = cluster
        self.executor = executor
        self.clock = clock
        self.on_cycle = on_cycle
        self.stats = LoopStats()
        self.versions = VersionTracker()
        self.leader = leadership or Leadership(engine or sessions.kw.get("bind"))
        self.txns = Transactions(sessions, self.versions, self._node_gpus, epoch=lambda: self.leader.epoch)
        self.env = schedule.base_env(self.config.base_env)
        self.logs = LogShipper(self.config.log_cap_bytes, self.config.log_every_s)
        self.jobs: dict[int, Tracked] = {}
        #: admitted jobs whose launch the executor is making (job id → the admitted row)
        self.launching: dict[int, JobValues] = {}
        #: launched jobs whose ``running`` state could not be committed yet (retried every tick)
        self._unrecorded: dict[int, Tracked] = {}
        self._wake_at: float | None = None
        #: when the approved reservations of the last snapshot close (their orphans are cancelled then)
        self._booking_ends: list[float] = []
        self._expire_at: float | None = None
        self._recovered = False
        self._event = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- thread -----------------------------------------------------------------------------------------------

    def _node_gpus(self, name: str) -> int | None:
        cluster = self.cluster()
        index = cluster.index_of(name)
        return None if index is None else cluster.nodes[index].gpus

    def wake(self) -> None:
        """Run a tick as soon as possible (called after every submit, cancel or other change)."""
        self._event.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="gpucloud-control-loop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current tick. Jobs keep running; the next start re-attaches them."""
        self._stopping.set()
        self._event.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._recovered:
            try:
                with self.txns.own() as session:
                    save_usage(session, self._usage)
            except Exception:  # the database may be gone already; housekeeping saved it a minute ago
                log.warning("could not save fair-share usage at stop", exc_info=True)
        self.executor.close()
        self.leader.release()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._event.clear()
            started = time.perf_counter()
            try:
                if not self.tick() and not self._recovered:  # not the leader: try again later
                    self._stopping.wait(self.config.leader_retry_s)
                    continue
            except Exception:
                self.stats.errors += 1
                self.versions.dirty = True
                log.exception("control loop tick failed; trying again")
            took = time.perf_counter() - started
            if self._event.wait(self.config.interval_s) and not self._stopping.is_set():
                self._stopping.wait(min(self.config.max_gap_s, max(self.config.min_gap_s, took)))

    # -- recovery ---------------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Start this leadership term: fence the hosts with the new epoch, then re-attach or settle every job
        that held or was about to hold processes (see :mod:`.recovery`)."""
        epoch = self.leader.epoch
        assert epoch is not None, "recover() needs leadership"
        self.executor.bind(self.wake, epoch, self.leader.installation)
        now = self.clock()
        with self.sessions() as session:
            self._usage = load_usage(session)
        self.launching.clear()
        self._unrecorded.clear()
        self.logs.clear()
        snap = self._read()
        self.jobs.clear()
        plan = recovery.plan_recovery(self.executor, snap.active, now)
        out = self.txns.apply(plan.changes)
        applied = set(out.applied)
        for row in snap.active:
            if row.id in plan.watch and (row.id in applied or row.state != JobState.ADMITTED.value):
                self.jobs[row.id] = plan.watch[row.id]
        self._load_logs(self.jobs)
        self._recovered = True
        self.versions.dirty = True
        if plan.changes or self.jobs:
            log.info("recovered (epoch %s): %d jobs re-attached, %d settled", epoch, len(self.jobs),
                     len(out.applied) - sum(1 for j in plan.watch if j in applied))

    def _load_logs(self, jobs: dict[int, Tracked]) -> None:
        with self.sessions() as session:
            self.logs.load(session, jobs)

    # -- one tick ---------------------------------------------------------------------------------------------

    def tick(self) -> bool:
        """One step, if this loop leads (it recovers first when a new leadership term begins); True if it ran a
        scheduling cycle."""
        if not self.leader.acquire():
            self._recovered = False
            return False
        try:
            if not self._recovered:
                self.recover()
            return self._tick()
        except Fenced:
            self.leader.lost()
            self._recovered = False
            return False

    def _tick(self) -> bool:
        started = time.perf_counter()
        now = self.clock()
        self.stats.ticks += 1
        if self._expire_at is None or now >= self._expire_at:
            self._expire(now)
        snap: Snapshot | None = None
        if self.versions.changed(self.txns.version()):
            snap = self._read()
        self._record_unrecorded(now)
        for job in self.jobs.values():  # the kills due by now first, so that what they end is collected now
            signals(self.executor, job, now, kills_only=True)
        cursors = self.logs.cursors(self.jobs)
        self._apply_report(self.executor.collect(self._watched(), cursors), now)
        asked = {c.job_id for c in cursors}
        tails = [c for c in self.logs.cursors(self.jobs, ended_only=True) if c.job_id not in asked]
        if tails:  # jobs that just ended: their logs' last bytes, so that they end in this tick
            self._apply_report(self.executor.collect(self._watched(), tails), now)
        ended = self._finish(now)
        scheduled = False
        if snap is not None or ended or (self._wake_at is not None and now >= self._wake_at):
            if snap is None or ended:
                snap = self._read()
            self._schedule(snap, now)
            scheduled = True
            if self.launching:  # launches that finished meanwhile (at once for executors without hosts)
                self._apply_report(self.executor.collect(self._watched()), now)
        self.stats.last_tick_s = time.perf_counter() - started
        if self.on_cycle is not None:
            self.on_cycle(self.stats.last_tick_s, scheduled)
        return scheduled

    def _expire(self, now: float) -> None:
        with self.txns.own() as session:
            expired = budgets.expire_due(session, now)
            reservations.cancel_orphans(session, now)
            save_usage(session, self._usage)
        self.versions.dirty |= job_holds.dependency_housekeeping(self.txns, self.sessions, now)
        self._expire_at = now + self.config.expiry_every_s
        if expired:
            log.info("budgets expired: %s", ", ".join(expired))

    def _read(self) -> Snapshot:
        with self.sessions() as session:
            usage_since = self._usage.last if POLICIES.get(self.config.policy).uses_usage else None
            snap = read_snapshot(session, ended_since=usage_since, now=self.clock())
        self.versions.saw(snap.version)
        self._refresh(snap.active)
        return snap

    def _refresh(self, active: list[JobData]) -> None:
        """Bring the tracked jobs in line with the database's running and preempting jobs."""
        now = self.clock()
        seen: set[int] = set()
        new: dict[int, Tracked] = {}
        for row in active:
            if row.state == JobState.ADMITTED.value and row.id in self.launching:
                self.launching[row.id].cancel_requested = bool(row.cancel_requested)
            if row.state not in (JobState.RUNNING.value, JobState.PREEMPTING.value):
                continue
            seen.add(row.id)
            job = self.jobs.get(row.id)
            if job is not None:
                job.refresh(row)
                continue
            handle = handle_from_json(row.handle)
            if handle is None:
                log.error("job %s is %s without a process handle; it will be failed", row.id, row.state)
                self._recovered = False  # recovery fails it with a reason
                continue
            new[row.id] = self.jobs[row.id] = track(row, handle, now)
        for jid in set(self.jobs) - seen:
            if self.jobs[jid].ended_at is None:  # ended elsewhere (another loop, before a failover)
                self.logs.forget(jid)
                del self.jobs[jid]
        if new:
            self._load_logs(new)

    def _watched(self) -> dict[str, Handle]:
        return {str(jid): job.handle for jid, job in self.jobs.items()}

    def _apply_report(self, report: Report, now: float) -> None:
        """Commit the launches that finished; record the ranks that ended and the hosts lost or found; copy the
        log bytes; send the signals that are due."""
        self._launched(report, now)
        merge_exits(self.jobs, report.exits, now)
        if report.nodes_down or report.nodes_up:
            with self.txns.own() as session:
                if apply_node_events(session, report.nodes_down, report.nodes_up, now):
                    log.warning("hosts lost: %s; back: %s", report.nodes_down or "none", report.nodes_up or "none")
        if report.logs:
            with self.txns.own() as session:
                self.logs.store(session, report.logs, self._host_of)
        for job in self.jobs.values():  # and a gang whose rank just failed is stopped at once
            signals(self.executor, job, now)

    def _host_of(self, job_id: int, rank: int) -> str:
        job = self.jobs.get(job_id)
        return job.handle.host(rank) if job is not None else "?"

    def _finish(self, now: float) -> bool:
        """Commit the jobs whose ranks all ended (once their logs are copied)."""
        done = [job for job in self.jobs.values() if job.ended_at is not None and self.logs.complete(job)]
        if not done:
            return False
        out = self.txns.apply([outcome(job, job_status(job, now), now) for job in done])
        for jid in out.applied + out.skipped:
            self.jobs.pop(jid, None)
            self.logs.forget(jid)
        self.stats.ended += len(out.applied)
        return bool(out.applied or out.skipped)

    def _launched(self, report: Report, now: float) -> None:
        """Turn finished launches into ``running`` (with the handle) or ``failed`` commits."""
        started: dict[int, Tracked] = {}
        failures: dict[int, str] = {}
        for key, handle in report.launched.items():
            jid = int(key)
            row = self.launching.pop(jid, None)
            if row is None:
                if jid not in self.jobs:  # a launch nobody waits for (a former term's): leave nothing running
                    log.error("job %s: launched but not expected; stopping its processes", jid)
                    self.executor.signal(handle, signal.SIGKILL)
                continue
            started[jid] = Tracked(jid, JobState.RUNNING, handle, now, row.walltime_s, row.grace_s,
                                   bool(row.cancel_requested), bool(row.preemptible))
        for key, why in report.launch_failed.items():
            if self.launching.pop(int(key), None) is not None:
                failures[int(key)] = why
        self.stats.launched += len(started)
        self.stats.launch_failures += len(failures)
        for jid, why in failures.items():
            log.warning("job %s cannot start: %s", jid, why)
        if started or failures:
            self._record_starts(started, failures, now)

    def _record_unrecorded(self, now: float) -> None:
        if self._unrecorded:
            self._record_starts(dict(self._unrecorded), {}, now)

    def _record_starts(self, started: dict[int, Tracked], failures: dict[int, str], now: float) -> None:
        """Commit ``running`` (with the handle) for launched jobs and ``failed`` for those that could not start."""
        launched = schedule.Launched({jid: job.handle for jid, job in started.items()}, failures)
        out = self.txns.apply(schedule.start_changes(launched, now))
        new: dict[int, Tracked] = {}
        for jid in out.applied:
            self._unrecorded.pop(jid, None)
            if jid in started:
                job = started[jid]
                job.cancel_requested = bool(out.rows[jid].cancel_requested)
                new[jid] = self.jobs[jid] = job
        for jid in out.skipped:  # no longer admitted: someone else settled it; leave no processes behind
            self._unrecorded.pop(jid, None)
            if jid in started:
                log.error("job %s was launched but is no longer admitted; killing its processes", jid)
                self.executor.signal(started[jid].handle, signal.SIGKILL)
        for jid in out.failed:
            if jid in started:
                self._unrecorded[jid] = started[jid]
        if new:
            self._load_logs(new)

    def _schedule(self, snap: Snapshot, now: float) -> None:
        if any(end <= now for end in self._booking_ends):  # a window closed: its jobs that never started never will
            with self.txns.own() as session:
                reservations.cancel_orphans(session, now)
            snap = self._read()
        self._booking_ends = [r.end for r in snap.reserved]
        built = build_driver(snap, self.cluster(), self.config.policy, now, self._usage, self.config.scheduler)
        self.stats.scheduler_builds += 1
        result = built.driver.cycle(now, explain=True)
        self._usage = built.driver.scheduler.state.usage  # brought up to now: kept for the next cycle
        self._wake_at = result.wake_at
        for jid in schedule.preempt(self.txns, result.preemptions, now):
            job = self.jobs.get(jid)
            if job is not None:
                job.state = JobState.PREEMPTING
                job.stop = Stop(StopKind.PREEMPT, now)
                self.executor.signal(job.handle, signal.SIGTERM)
        replicas.orphans(self.txns, snap.pending, now)
        stopped, started = replicas.apply(self.txns, snap.services, snap.active, result, built.driver.cluster, now)
        for jid in stopped:  # a service's replica the core stopped: SIGTERM now, SIGKILL after its grace
            job = self.jobs.get(jid)
            if job is not None:
                job.cancel_requested = True
                signals(self.executor, job, now)
        refused: dict[int, str] = {}
        self.txns.lent_nodes = replicas.lent_nodes(built.driver.scheduler.state.services, built.driver.cluster)
        rows = started + schedule.admit(self.txns, result.admissions, built.driver.cluster, now, refused)
        self.stats.admitted += len(rows)
        failures: dict[int, str] = {}
        for row in rows:
            try:
                account = self.config.run_as.account(row.user_name)
            except NoAccount as exc:
                failures[row.id] = str(exc)
                continue
            self.launching[row.id] = row
            self.executor.launch(schedule.launch_spec(row, self.env, account))
        if failures:
            self.stats.launch_failures += len(failures)
            self._record_starts({}, failures, now)
        schedule.store_queue_info(self.txns, snap, result, {**built.unschedulable, **refused})
