"""The :class:`ControlLoop`: a background thread that reconciles, schedules and launches.

One tick (see ``docs/control-loop.md``):

1. read ``scheduler_state.version``; if it changed (or the loop is ``dirty``), read a snapshot and refresh
   the in-memory list of jobs that hold processes;
2. reconcile: poll each of them, send SIGTERM/SIGKILL where due, commit the ones that ended;
3. if the version changed, a job ended, or the core's ``wake_at`` is due: build a :class:`Scheduler` from
   the snapshot, run one cycle, and apply its decisions (:mod:`.schedule`).

At the first tick and then every ``expiry_every_s`` (by the loop's clock) it also expires the budgets past
their expiry date (:func:`gpucloud.service.budgets.expire_due`), cancels the pending jobs whose reservation
ended or was rejected (:func:`gpucloud.service.reservations.cancel_orphans`) and saves fair share's decayed
usage (:mod:`gpucloud.service.fairshare_usage`; loaded again at recovery).

A tick with nothing new costs one version read and one executor poll per running job. The thread wakes at
once when :meth:`ControlLoop.wake` is called (the API's ``on_change``), else every ``interval_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.core.policies import POLICIES
from gpucloud.core.state import DecayedUsage
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobState
from gpucloud.service import budgets, reservations
from gpucloud.service.control import recovery, schedule
from gpucloud.service.control.journal import handle_from_json
from gpucloud.service.control.leader import Leadership
from gpucloud.service.control.reconcile import reconcile
from gpucloud.service.control.snapshot import JobData, Snapshot, build_scheduler, read_snapshot
from gpucloud.service.control.tracked import Stop, StopKind, Tracked, track
from gpucloud.service.control.txn import Change, Transactions, VersionTracker
from gpucloud.service.executors.base import Executor
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


@dataclass
class LoopStats:
    ticks: int = 0
    #: how many times a Scheduler was built from the database (one per scheduling cycle)
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
        data_dir: Path,
        *,
        engine: Engine | None = None,
        clock: Callable[[], float] = time.time,
        config: LoopConfig | None = None,
        on_cycle: CycleObserver | None = None,
    ) -> None:
        self.config = config or LoopConfig()
        #: fair share's decayed usage, carried from cycle to cycle; loaded at recovery, saved by housekeeping
        self._usage = DecayedUsage()
        POLICIES.get(self.config.policy)  # an unknown policy fails here, with suggestions
        self.sessions = sessions
        self.cluster = cluster
        self.executor = executor
        on_exit = getattr(executor, "on_exit", None)
        if on_exit is not None:  # an executor that can tell when a job ended wakes the loop then (local: exits.py)
            on_exit(self.wake)
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.on_cycle = on_cycle
        self.stats = LoopStats()
        self.versions = VersionTracker()
        self.txns = Transactions(sessions, self.versions, self._node_gpus)
        self.leader = Leadership(engine)
        self.env = schedule.base_env(self.config.base_env)
        self.jobs: dict[int, Tracked] = {}
        #: launched jobs whose ``running`` state could not be committed yet (retried every tick)
        self._unrecorded: dict[int, Tracked] = {}
        self._wake_at: float | None = None
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
                with self.sessions.begin() as session:
                    save_usage(session, self._usage)
            except Exception:  # the database may be gone already; housekeeping saved it a minute ago
                log.warning("could not save fair-share usage at stop", exc_info=True)
        close = getattr(self.executor, "close", None)
        if close is not None:  # e.g. the local executor's launcher process (jobs keep running)
            close()
        self.leader.release()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self.leader.acquire():
                self._recovered = False
                self._stopping.wait(self.config.leader_retry_s)
                continue
            self._event.clear()
            started = time.perf_counter()
            try:
                if not self._recovered:
                    self.recover()
                self.tick()
            except Exception:
                self.stats.errors += 1
                self.versions.dirty = True
                log.exception("control loop tick failed; trying again")
            took = time.perf_counter() - started
            if self._event.wait(self.config.interval_s) and not self._stopping.is_set():
                self._stopping.wait(min(self.config.max_gap_s, max(self.config.min_gap_s, took)))

    # -- one tick ---------------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Re-attach or settle every job that held processes when the last loop stopped (see :mod:`.recovery`)."""
        now = self.clock()
        with self.sessions() as session:
            self._usage = load_usage(session)
        snap = self._read()
        self.jobs.clear()
        self._unrecorded.clear()
        plan = recovery.plan_recovery(self.executor, snap.active, self.data_dir, now)
        out = self.txns.apply(plan.changes)
        applied = set(out.applied)
        for row in snap.active:
            if row.id in plan.watch and (row.id in applied or row.state != JobState.ADMITTED.value):
                self.jobs[row.id] = plan.watch[row.id]
        self._recovered = True
        self.versions.dirty = True
        if plan.changes or self.jobs:
            log.info("recovered after a restart: %d jobs re-attached, %d settled", len(self.jobs),
                     len(out.applied) - sum(1 for j in plan.watch if j in applied))

    def tick(self) -> bool:
        """One step; True if it ran a scheduling cycle."""
        if not self._recovered:
            self.recover()
        started = time.perf_counter()
        now = self.clock()
        self.stats.ticks += 1
        if self._expire_at is None or now >= self._expire_at:
            self._expire(now)
        snap: Snapshot | None = None
        if self.versions.changed(self.txns.version()):
            snap = self._read()
        self._record_unrecorded(now)
        ended = self._finish(reconcile(self.executor, self.jobs, now))
        scheduled = False
        if snap is not None or ended or (self._wake_at is not None and now >= self._wake_at):
            if snap is None or ended:
                snap = self._read()
            self._schedule(snap, now)
            scheduled = True
        self.stats.last_tick_s = time.perf_counter() - started
        if self.on_cycle is not None:
            self.on_cycle(self.stats.last_tick_s, scheduled)
        return scheduled

    def _expire(self, now: float) -> None:
        with self.sessions.begin() as session:
            expired = budgets.expire_due(session, now)
            reservations.cancel_orphans(session, now)
            save_usage(session, self._usage)
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
        for row in active:
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
            self.jobs[row.id] = track(row, handle, now)
        for jid in set(self.jobs) - seen:
            del self.jobs[jid]

    def _finish(self, changes: list[Change]) -> bool:
        if not changes:
            return False
        out = self.txns.apply(changes)
        for jid in out.applied + out.skipped:
            self.jobs.pop(jid, None)
        self.stats.ended += len(out.applied)
        return bool(out.applied or out.skipped)

    def _record_unrecorded(self, now: float) -> None:
        if self._unrecorded:
            self._record_starts(dict(self._unrecorded), {}, now)

    def _record_starts(self, started: dict[int, Tracked], failures: dict[int, str], now: float) -> None:
        """Commit ``running`` (with the handle) for launched jobs and ``failed`` for those that could not start."""
        launched = schedule.Launched({jid: job.handle for jid, job in started.items()}, failures)
        out = self.txns.apply(schedule.start_changes(launched, now))
        for jid in out.applied:
            self._unrecorded.pop(jid, None)
            if jid in started:
                self.jobs[jid] = started[jid]
        for jid in out.skipped:  # no longer admitted: someone else settled it; leave no processes behind
            self._unrecorded.pop(jid, None)
            if jid in started:
                log.error("job %s was launched but is no longer admitted; killing its processes", jid)
                self.executor.kill(started[jid].handle)
        for jid in out.failed:
            if jid in started:
                self._unrecorded[jid] = started[jid]

    def _schedule(self, snap: Snapshot, now: float) -> None:
        built = build_scheduler(snap, self.cluster(), self.config.policy, now, self._usage)
        self.stats.scheduler_builds += 1
        result = built.scheduler.cycle(now, explain=True)
        self._wake_at = result.wake_at
        for jid in schedule.preempt(self.txns, result.preemptions, now):
            job = self.jobs.get(jid)
            if job is not None:
                job.state = JobState.PREEMPTING
                job.stop = Stop(StopKind.PREEMPT, now)
                self.executor.terminate(job.handle)
        refused: dict[int, str] = {}
        rows = schedule.admit(self.txns, result.admissions, built.scheduler.cluster, now, refused)
        self.stats.admitted += len(rows)
        launched = schedule.launch(self.executor, rows, self.data_dir, self.env)
        self.stats.launched += len(launched.handles)
        self.stats.launch_failures += len(launched.failures)
        for jid, why in launched.failures.items():
            log.warning("job %s cannot start: %s", jid, why)
        started = {r.id: Tracked(r.id, JobState.RUNNING, launched.handles[r.id], now, r.walltime_s, r.grace_s,
                                 bool(r.cancel_requested)) for r in rows if r.id in launched.handles}
        self._record_starts(started, launched.failures, now)
        schedule.store_queue_info(self.sessions, snap, result, {**built.unschedulable, **refused})
