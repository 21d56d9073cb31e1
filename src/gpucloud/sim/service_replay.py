"""A replay with services: a job trace and services whose demand follows the day, on one cluster, for a window.

The replay clock starts at 0 = the window's start (``start``, UTC epoch seconds). Each service's demand is cut to
the window (:func:`gpucloud.model.demand.window`) and moved onto that clock; the trace's jobs submitted in the
window come in at their time (the trace's ``t0`` dates its time 0), each given ``grace`` seconds of checkpoint
grace. Jobs still queued at the window's end run to their end; the services stop at the window's end.

:func:`replay_pair` runs the same jobs twice: with the services following their demand (harvesting: AI work uses
what the services leave idle, and gives it back in time), and *fenced*: each service holds its peak of the window
for the whole window (GPUs dedicated to the service, the usual way to keep a RAN safe).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from gpucloud.core.types import CycleResult
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.demand import Fixed, Steps, peak, window
from gpucloud.model.org import Org
from gpucloud.model.service import ServiceSpec
from gpucloud.sim.engine import SimConfig, SimResult, Simulation
from gpucloud.sim.events import Kind
from gpucloud.sim.traces.base import Trace, TraceJob

#: the longest window a replay with services may cover (days)
MAX_DAYS = 62


@dataclass
class ServiceReplay:
    """One replay: the simulator's result, the services as replayed (demand on the replay clock), the window
    ``[0, length)``, and per service the replica count after each change: ``(time, replicas)``."""

    result: SimResult
    services: list[ServiceSpec]
    length: float
    counts: dict[str, list[tuple[float, int]]] = field(default_factory=dict)


def window_jobs(trace: Trace, start: float, end: float, grace: float) -> list[TraceJob]:
    """The trace's jobs submitted in ``[start, end)`` (epoch seconds, through ``trace.t0``), on the replay clock
    (0 = ``start``), with ``grace`` seconds of grace."""
    if grace < 0:
        raise InputError("grace", "must not be negative", grace)
    out = []
    for tj in trace.jobs:
        at = trace.t0 + tj.spec.submit_time
        if start <= at < end:
            spec = dataclasses.replace(tj.spec, submit_time=at - start, grace=grace)
            out.append(dataclasses.replace(tj, spec=spec))
    return out


def on_clock(specs: Iterable[ServiceSpec], start: float, end: float, fenced: bool = False) -> list[ServiceSpec]:
    """The services' demand in ``[start, end)`` on the replay clock; ``fenced``: the peak all the time."""
    out = []
    for s in specs:
        demand: Steps | Fixed = window(s.demand, start, end, 0.0)
        if fenced:
            demand = window(Fixed(peak(s.demand, start, end)), start, end, 0.0)
        out.append(dataclasses.replace(s, demand=demand))
    return out


def replay(cluster: Cluster, jobs: list[TraceJob], policy: str, services: list[ServiceSpec], length: float,
           orgs: Mapping[str, Org] | None = None, checkpoint_interval: float = 1800.0,
           progress: Callable[[int, int], None] | None = None) -> ServiceReplay:
    """Replay ``jobs`` with ``services`` (already on the replay clock) from 0."""
    counts: dict[str, list[tuple[float, int]]] = {s.name: [(0.0, 0)] for s in services}
    now_count = dict.fromkeys(counts, 0)

    def observe(now: float, result: CycleResult) -> None:
        for changed, step in ((result.replica_stops, -1), (result.replica_starts, 1)):
            for c in changed:
                now_count[c.service] += step
                series = counts[c.service]
                if series[-1][0] == now:
                    series[-1] = (now, now_count[c.service])
                else:
                    series.append((now, now_count[c.service]))

    config = SimConfig(checkpoint_interval=checkpoint_interval, services=tuple(services))
    sim = Simulation(cluster, jobs, policy, orgs, config, observe)
    sim.loop.push(0.0, Kind.WAKE, ("", 0))
    return ServiceReplay(sim.run(progress), services, length, counts)


def replay_pair(cluster: Cluster, trace: Trace, policy: str, specs: list[ServiceSpec], start: float, days: float,
                grace: float = 120.0, orgs: Mapping[str, Org] | None = None, checkpoint_interval: float = 1800.0,
                progress: Callable[[str], Callable[[int, int], None] | None] | None = None,
                ) -> tuple[ServiceReplay, ServiceReplay]:
    """The harvesting replay and the fenced one (see the module) of the window ``days`` from ``start``."""
    if not 0 < days <= MAX_DAYS:
        raise InputError("--days", f"must be more than 0 and at most {MAX_DAYS}", days)
    end = start + days * 86400.0
    jobs = window_jobs(trace, start, end, grace)
    if not jobs:
        raise InputError("--from", "no job of the trace was submitted in the window", start)
    runs = []
    for fenced in (False, True):
        name = "fenced" if fenced else "harvest"
        runs.append(replay(cluster, jobs, policy, on_clock(specs, start, end, fenced), end - start, orgs,
                           checkpoint_interval, None if progress is None else progress(name)))
    return runs[0], runs[1]
