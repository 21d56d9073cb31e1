"""Shape advice: what a pending job could ask for instead to start (or finish) sooner.

For one pending job, the alternatives that fit its request — the same GPUs spread over fewer or more nodes,
the same number of GPUs of another type (its walltime scaled by the types' speeds, from the cluster file), and a
shorter walltime (the learned p90 of its run time, rounded up) — each forecast by running the driver forward
(:mod:`.forward`) from the same state with only that job changed: it keeps its place in the queue. The job's
own run time stays what the predictor expects of it (on the new type's speed, at most the new walltime): asking
for less time does not make the work shorter.

Pure, like the core; the caller passes ``now``, the state and the predictor.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from gpucloud.core.driver import DriverState
from gpucloud.core.forecast.forward import RunTime, Setup, run_forward
from gpucloud.core.forecast.queue import ForecastConfig, predicted
from gpucloud.core.forecast.runtimes import Predictor
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec

#: walltimes advised are rounded up to this (seconds)
ROUND_TO = 300.0
#: at most this many alternatives are forecast (each costs one forward run)
MAX_OPTIONS = 8


@dataclass(frozen=True, slots=True)
class ShapeOption:
    """One way to ask: ``label`` in words, the request (``num_gpus``, ``nodes``: None for "as the scheduler
    spreads it", ``gpu_type``, ``walltime`` seconds), the predicted ``start`` and ``end`` (None: not within the
    horizon), and whether it is the job's own request (``current``)."""

    label: str
    num_gpus: int
    nodes: int | None
    gpu_type: str | None
    walltime: float
    start: float | None
    end: float | None
    current: bool = False


def node_gpus(cluster: Cluster) -> dict[str, int]:
    """The largest node of each GPU type (GPUs)."""
    out: dict[str, int] = {}
    for n in cluster.nodes:
        out[n.gpu_type] = max(out.get(n.gpu_type, 0), n.gpus)
    return out


def alternatives(spec: JobSpec, cluster: Cluster, predictor: Predictor) -> list[tuple[str, JobSpec]]:
    """The requests to compare, the job's own first (see the module); each fits a node set of ``cluster`` and
    its longest walltime."""
    sizes = node_gpus(cluster)
    speeds = {name: t.speed for name, t in cluster.gpu_types.items()}
    own = spec.gpu_type
    out: list[tuple[str, JobSpec]] = [("as asked", spec)]

    def add(label: str, alt: JobSpec) -> None:
        if alt.walltime > cluster.limits.max_walltime_s:
            return  # longer than the cluster lets anyone ask
        types = [alt.gpu_type] if alt.gpu_type is not None else list(sizes)
        try:
            if not any(t in sizes and alt.shape(sizes[t]).per_node <= sizes[t] for t in types):
                return
        except InputError:
            return
        if all(alt != o for _, o in out):
            out.append((label, alt))

    # the same GPUs over other numbers of nodes (not the one the job gets already)
    try:
        mine = spec.nodes or spec.shape(sizes[own] if own in sizes else max(sizes.values(), default=1)).nodes
    except InputError:
        mine = 0
    for n in sorted({1, 2, 4, 8, spec.num_gpus} - {mine}):
        if n <= spec.num_gpus and spec.num_gpus % n == 0:
            add(f"{n} × {spec.num_gpus // n} GPUs", dataclasses.replace(spec, nodes=n))
    # the same number of GPUs of another type, the walltime scaled by the speeds
    base = speeds.get(own, 1.0) if own is not None else min(speeds.values(), default=1.0)
    for name, speed in sorted(speeds.items()):
        if name == own or (own is None and len(sizes) == 1):
            continue  # its own type, or the only one there is
        wall = _round_up(spec.walltime * base / speed)
        add(f"{spec.num_gpus} × {name}, walltime {_hours(wall)}",
            dataclasses.replace(spec, gpu_type=name, walltime=wall))
    # a shorter walltime: the run time it will most likely not exceed
    likely = predictor.predict(spec, 0.9, 0.0, base).seconds
    wall = _round_up(likely * 1.2)
    if wall < spec.walltime:
        add(f"walltime {_hours(wall)}", dataclasses.replace(spec, walltime=wall))
    return out[:MAX_OPTIONS]


def advise(setup: Setup, state: DriverState, now: float, job_id: str, predictor: Predictor,
           config: ForecastConfig = ForecastConfig()) -> list[ShapeOption]:
    """Each alternative of the pending job ``job_id`` (:func:`alternatives`) with its predicted start and end,
    earliest end first (the job's own request first among equals). :class:`KeyError` if it is not pending."""
    job = next((j for j in state.pending if j.id == job_id), None)
    if job is None:
        raise KeyError(job_id)
    speeds = {name: t.speed for name, t in setup.cluster.gpu_types.items()}
    base_speed = speeds.get(job.spec.gpu_type or "", 1.0)
    work = predictor.predict(job.spec, config.point, 0.0, base_speed).seconds * base_speed
    others = predicted(predictor, config.point, setup)
    options = []
    for label, alt in alternatives(job.spec, setup.cluster, predictor):
        own_run = _own_run_time(others, alt, work, speeds)
        changed = dataclasses.replace(state, pending=[
            dataclasses.replace(j, spec=alt) if j.id == job_id else j for j in state.pending])
        try:
            fwd = run_forward(setup, changed, now, own_run, jobs={job_id}, horizon=now + config.horizon,
                              tolerance=config.tolerance)
        except InputError:
            continue
        start = fwd.starts.get(job_id)
        gpu_type = fwd.types.get(job_id, alt.gpu_type)
        end = None if start is None else start + min(alt.walltime, work / speeds.get(gpu_type or "", 1.0))
        options.append(ShapeOption(label, alt.num_gpus, alt.nodes, alt.gpu_type, alt.walltime, start, end,
                                   alt is job.spec))
    return sorted(options, key=lambda o: (math.inf if o.end is None else o.end, not o.current))


def _own_run_time(others: RunTime, alt: JobSpec, work: float, speeds: dict[str, float]) -> RunTime:
    """The run times of a forward run in which ``alt`` runs ``work`` seconds of speed-1.0 work (at most its
    walltime) and everyone else as predicted."""

    def run_time(spec: JobSpec, gpu_type: str, elapsed: float) -> float:
        if spec.id == alt.id:
            return max(elapsed, min(alt.walltime, work / speeds[gpu_type]))
        return others(spec, gpu_type, elapsed)

    return run_time


def _round_up(seconds: float) -> float:
    return max(ROUND_TO, math.ceil(seconds / ROUND_TO) * ROUND_TO)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"
