"""Start-time forecasts of the live queue, kept in memory and recomputed off the control loop.

:class:`Forecaster` reads a snapshot of the database as the control loop does
(:func:`gpucloud.service.control.snapshot.read_snapshot`, :func:`~gpucloud.service.control.snapshot.driver_state`:
the queue in order, running jobs, reservations, down nodes, fair share's saved usage), learns run times from the
jobs that ended (:class:`gpucloud.core.forecast.runtimes.RunTimes`, fed incrementally: each refresh reads only
the jobs that ended since the last one), and runs the core forward (:func:`gpucloud.core.forecast.queue.
forecast_queue`). The result is cached; a request that finds it older than ``every_s`` — or, once it is
``min_gap_s`` old, the queue's length changed by ``big_change`` (a share, at least one job) or asking about a job
submitted since — starts a recompute in a background thread and is answered from the cache meanwhile. A
starting server makes the first one in the background (:meth:`Forecaster.warm`); a request that finds none waits
for it. Nothing runs while nobody asks, and the control loop's thread never does this work.

Each server process keeps its own cache (with ``--workers N`` each API process forecasts for itself).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.core.driver import DriverState
from gpucloud.core.forecast.advice import ShapeOption, advise
from gpucloud.core.forecast.forward import Setup
from gpucloud.core.forecast.queue import ForecastConfig, JobForecast, forecast_queue
from gpucloud.core.forecast.runtimes import Estimate, RanJob, RunTimes
from gpucloud.core.state import SchedulerConfig
from gpucloud.core.types import PendingJob
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec, JobState
from gpucloud.service.control.snapshot import driver_state, read_snapshot
from gpucloud.service.control.txn import job_select, jobs_table
from gpucloud.service.fairshare_usage import load_usage

log = logging.getLogger("gpucloud.forecasts")

#: at most this many ended jobs are read to learn from at the first refresh (the latest)
HISTORY_LIMIT = 20_000


@dataclass(frozen=True)
class QueueForecast:
    """One forecast of the whole queue: per pending job id its forecast (jobs held out of scheduling — a
    dependency, a budget, a shape no node fits — are in ``held`` with the reason instead), when it was made,
    how long it took (seconds), how many finished runs the predictor had learned from, the queue's length, each
    job's own predicted run time, and the state and setup it was made from (shape advice reuses them)."""

    made_at: float
    jobs: dict[int, JobForecast]
    held: dict[int, str]
    took_s: float
    learned: int
    pending: int
    #: per forecast job, its own predicted run time and what that is based on
    runs: dict[int, Estimate] = field(repr=False)
    state: DriverState = field(repr=False)
    setup: Setup = field(repr=False)


class Forecaster:
    """The cache and its refresh (see the module)."""

    def __init__(self, sessions: sessionmaker[Session], cluster: Callable[[], Cluster], policy: str,
                 clock: Callable[[], float], *, scheduler: SchedulerConfig | None = None,
                 config: ForecastConfig = ForecastConfig(), every_s: float = 30.0, big_change: float = 0.1,
                 min_gap_s: float = 5.0, background: bool = True) -> None:
        self.sessions = sessions
        self.cluster = cluster
        self.policy = policy
        self.clock = clock
        self.scheduler = scheduler
        self.config = config
        self.every_s = every_s
        self.big_change = big_change
        self.min_gap_s = min_gap_s
        #: False: a stale cache is refreshed in the asking thread (tests)
        self.background = background
        self.predictor = RunTimes()
        self._seen_until: float | None = None
        self._cached: QueueForecast | None = None
        self._lock = threading.Lock()
        self._busy = threading.Lock()

    def current(self, job_ids: Collection[int] = ()) -> QueueForecast | None:
        """The cached forecast, refreshed first if there is none yet (None if that failed: logged, and tried again
        at the next request); a stale one starts a refresh (see the module; ``job_ids``: the jobs asked about —
        one submitted since the forecast makes it stale too)."""
        cached = self._cached
        stale = cached is None or self._stale(cached, job_ids)
        if cached is not None and stale and self.background:
            threading.Thread(target=self._refresh_quietly, name="gpucloud-forecast", daemon=True).start()
        elif stale:
            try:
                return self.refresh()
            except Exception:
                log.exception("start-time forecast failed")
        return cached

    def _stale(self, cached: QueueForecast, job_ids: Collection[int] = ()) -> bool:
        age = self.clock() - cached.made_at
        if age >= self.every_s:
            return True
        if age < self.min_gap_s:
            return False
        if any(j not in cached.jobs and j not in cached.held for j in job_ids):
            return True
        with self.sessions() as session:
            pending = session.scalar(select(func.count()).select_from(jobs_table()).where(
                jobs_table().c.state == JobState.PENDING.value)) or 0
        return abs(pending - cached.pending) >= max(1.0, self.big_change * cached.pending)

    def _refresh_quietly(self) -> None:
        if not self._busy.acquire(blocking=False):
            return  # one refresh at a time; the one running answers the next request
        try:
            self._compute()
        except Exception:
            log.exception("start-time forecast failed")
        finally:
            self._busy.release()

    def warm(self) -> None:
        """Make the first forecast in a background thread (a server starting), so that no request waits for it."""
        threading.Thread(target=self._refresh_quietly, name="gpucloud-forecast", daemon=True).start()

    def refresh(self) -> QueueForecast:
        """Recompute now, in this thread (a forecast another thread finished while this one waited is taken)."""
        before = self._cached
        with self._busy:
            after = self._cached
            if after is not None and after is not before and not self._stale(after):
                return after
            return self._compute()

    def _compute(self) -> QueueForecast:
        started = time.perf_counter()
        now = self.clock()
        cluster = self.cluster()
        with self.sessions() as session:
            snap = read_snapshot(session, now=now)
            usage = load_usage(session)
            self._learn(session, cluster)
        held: dict[int, str] = {}
        state = driver_state(snap, cluster, now, usage, held)
        setup = Setup(cluster, snap.orgs, self.policy, self.scheduler)
        out = forecast_queue(setup, state, now, self.predictor, self.config)
        speeds = {name: t.speed for name, t in cluster.gpu_types.items()}
        runs = {int(j.id): self.predictor.predict(j.spec, self.config.point, 0.0,
                                                  speeds.get(j.spec.gpu_type or "", 1.0)) for j in state.pending}
        result = QueueForecast(now, {int(k): v for k, v in out.items()}, held, time.perf_counter() - started,
                               self.predictor.learned, len(snap.pending), runs, state, setup)
        with self._lock:
            self._cached = result
        return result

    def _learn(self, session: Session, cluster: Cluster) -> None:
        """Feed the predictor the jobs that ended since the last refresh (the latest ``HISTORY_LIMIT`` at first)."""
        jobs = jobs_table()
        query = job_select().where(jobs.c.ended_at.is_not(None), jobs.c.started_at.is_not(None),
                                   jobs.c.assigned_gpu_type.is_not(None))
        if self._seen_until is not None:
            query = query.where(jobs.c.ended_at > self._seen_until)
        rows = list(session.execute(query.order_by(jobs.c.ended_at.desc()).limit(HISTORY_LIMIT)))
        for row in reversed(rows):
            gpu_type = cluster.gpu_types.get(row.assigned_gpu_type)
            self.predictor.learn(RanJob(row.user_name, row.project_name, row.org_name, row.num_gpus,
                                        row.walltime_s, max(0.0, row.ended_at - row.started_at),
                                        gpu_type.speed if gpu_type is not None else 1.0))
        if rows:
            self._seen_until = rows[0].ended_at

    def preview(self, spec: JobSpec) -> tuple[QueueForecast, JobForecast, Estimate] | None:
        """The forecast used, the start of a job of ``spec`` submitted at the forecast's time (the last in its
        class; point only: one forward run) and its own predicted run time; None when no forecast could be made.
        :class:`~gpucloud.errors.InputError` when the forecast's cluster cannot run it (reloaded since the request
        was checked)."""
        cached = self.current()
        if cached is None:
            return None
        state = cached.state
        seq = 1 + max([j.seq or 0 for j in state.pending] + [r.seq or 0 for r in state.running], default=0)
        spec = dataclasses.replace(spec, submit_time=cached.made_at)
        ahead = dataclasses.replace(state, pending=[*state.pending, PendingJob(spec, queued_since=cached.made_at,
                                                                               seq=seq)])
        kind = cached.setup.cluster.gpu_types.get(spec.gpu_type or "")
        speed = kind.speed if kind is not None else 1.0
        with self._busy:
            out = forecast_queue(cached.setup, ahead, cached.made_at, self.predictor, self.config, jobs={spec.id},
                                 ranges=False)
            return cached, out[spec.id], self.predictor.predict(spec, self.config.point, 0.0, speed)

    def advice(self, job_id: int) -> tuple[QueueForecast, list[ShapeOption] | None] | None:
        """The forecast used and the shape advice of pending job ``job_id`` on its state (None: the job is not in
        it — not pending, or held out of scheduling); None when no forecast could be made."""
        cached = self.current()
        if cached is None:
            return None
        try:
            with self._busy:  # the predictor learns during a refresh
                return cached, advise(cached.setup, cached.state, cached.made_at, str(job_id), self.predictor,
                                      self.config)
        except KeyError:
            return cached, None
