"""How good are start-time forecasts? Replay a trace and, at many moments, forecast every pending job's start
from that moment's state, then compare with the start the replay actually gave it.

At each moment (``moments`` times, evenly over the trace's submissions) the simulator's driver state is exported
— exactly what the live service would have — and each predictor forecasts the queue from it
(:func:`gpucloud.core.forecast.queue.forecast_queue`). A learned predictor knows only the runs that ended before
that moment (it learns as the replay goes). The truth is the job's next start in the replay. The forecasts know
nothing of the jobs submitted later; those are part of the error, as they are live.

Figures per predictor (:class:`Accuracy`): the median and p90 absolute error, the share of forecasts within 1 and
10 minutes, within 10% of the true wait (counted from the moment of the forecast: what was forecast), within
max(10 minutes, 10% of the true wait), and the share whose true start fell inside the forecast's range. A job
forecast at several moments counts at each.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gpucloud.core.forecast.forward import Setup
from gpucloud.core.forecast.queue import ForecastConfig, JobForecast, forecast_queue
from gpucloud.core.forecast.runtimes import Predictor, RanJob, RunTimes
from gpucloud.core.types import CycleResult
from gpucloud.model.cluster import Cluster
from gpucloud.model.org import Org
from gpucloud.sim.engine import SimConfig, SimResult, Simulation
from gpucloud.sim.traces.base import TraceJob


@dataclass(frozen=True, slots=True)
class Sample:
    """One forecast of one job at one moment, and the start it really got."""

    moment: float
    forecast: JobForecast
    truth: float

    @property
    def error(self) -> float:
        at = self.forecast.start
        return math.inf if at is None else abs(at - self.truth)

    @property
    def wait(self) -> float:
        """The true wait from the moment of the forecast."""
        return self.truth - self.moment


@dataclass(frozen=True, slots=True)
class Accuracy:
    """The figures of a list of samples (see the module); shares are 0–1, errors seconds."""

    samples: int
    median_error: float
    p90_error: float
    within_1min: float
    within_10min: float
    within_10pct: float
    within_goal: float
    in_range: float

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Accuracy:
        n = len(samples)
        if not n:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
        errors = sorted(s.error for s in samples)

        def share(ok: Callable[[Sample], bool]) -> float:
            return sum(1 for s in samples if ok(s)) / n

        def inside(s: Sample) -> bool:
            lo, hi = s.forecast.earliest, s.forecast.latest
            return lo is not None and lo <= s.truth and (hi is None or s.truth <= hi)

        return cls(n, errors[n // 2], errors[min(n - 1, int(0.9 * n))],
                   share(lambda s: s.error <= 60), share(lambda s: s.error <= 600),
                   share(lambda s: s.error <= 0.1 * s.wait), share(lambda s: s.error <= max(600, 0.1 * s.wait)),
                   share(inside))


@dataclass
class Measured:
    """Per predictor name, its samples; and the replay itself."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    replay: SimResult | None = None
    #: wall-clock seconds spent forecasting, per predictor
    cost: dict[str, float] = field(default_factory=dict)

    def accuracy(self) -> dict[str, Accuracy]:
        return {name: Accuracy.of(s) for name, s in self.samples.items()}


#: a predictor to measure, rebuilt for each replay: the learned ones start knowing nothing
PredictorFactory = Callable[[], Predictor]


def measure(cluster: Cluster, jobs: Sequence[TraceJob], policy: str, predictors: Mapping[str, PredictorFactory],
            *, moments: int = 40, history: Sequence[TraceJob] = (), orgs: Mapping[str, Org] | None = None,
            sim: SimConfig | None = None,
            forecast: ForecastConfig = ForecastConfig(), clock: Callable[[], float] | None = None,
            progress: Callable[[int, int], None] | None = None) -> Measured:
    """Replay ``jobs`` under ``policy`` and forecast the queue at ``moments`` moments with each predictor (see the
    module). The learned predictors first learn ``history`` (jobs that ran before the replay, as a live service
    remembers them). ``clock`` (e.g. ``time.perf_counter``) measures what the forecasts cost;
    ``progress(done, total)`` is told after each moment."""
    config = sim or SimConfig(known_durations=False)
    simulation = Simulation(cluster, jobs, policy, orgs, config)
    setup = Setup(cluster, orgs, policy, config.scheduler)
    first = min((j.spec.submit_time for j in jobs), default=0.0)
    last = max((j.spec.submit_time for j in jobs), default=0.0)
    step = (last - first) / moments if moments else math.inf
    at = [first + step * (k + 0.5) for k in range(moments)]
    built = {name: make() for name, make in predictors.items()}
    for p in built.values():
        if isinstance(p, RunTimes):
            p.learn_all(RanJob(j.spec.user, j.spec.project, j.spec.org, j.spec.num_gpus, j.spec.walltime,
                               j.duration) for j in history)
    forecasts: dict[str, list[tuple[float, dict[str, JobForecast]]]] = {name: [] for name in predictors}
    out = Measured(cost={name: 0.0 for name in predictors})
    speeds = {name: t.speed for name, t in cluster.gpu_types.items()}
    seen = 0

    def learn() -> None:
        nonlocal seen
        for seg in simulation.segments[seen:]:
            run_of = simulation.runs[seg.job_id]
            if run_of.record.end_time != seg.end_time:
                continue  # a preempted run: it did not end the job
            spec = run_of.trace.spec
            run = RanJob(spec.user, spec.project, spec.org, spec.num_gpus, spec.walltime,
                         seg.end_time - seg.start_time, speeds[seg.gpu_type])
            for p in built.values():
                if isinstance(p, RunTimes):
                    p.learn(run)
        seen = len(simulation.segments)

    def observe(now: float, result: CycleResult) -> None:
        while at and now >= at[0]:
            at.pop(0)
            learn()
            state = simulation.driver.export()
            for name, p in built.items():
                started = clock() if clock else 0.0
                forecasts[name].append((now, forecast_queue(setup, state, now, p, forecast)))
                if clock:
                    out.cost[name] += clock() - started
            if progress:
                progress(moments - len(at), moments)

    simulation.observer = observe
    out.replay = simulation.run()
    starts: dict[str, list[float]] = {}
    for seg in sorted(out.replay.segments, key=lambda s: s.start_time):
        starts.setdefault(seg.job_id, []).append(seg.start_time)
    for name, per_moment in forecasts.items():
        samples = out.samples[name] = []
        for now, fc in per_moment:
            for jid, f in fc.items():
                runs = starts.get(jid, [])
                i = bisect_left(runs, now)
                if i < len(runs):
                    samples.append(Sample(now, f, runs[i]))
    return out
