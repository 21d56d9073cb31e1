"""Capacity planning: the smallest cluster that meets a wait objective, found by replaying a trace on candidates.

* An **objective** bounds a statistic of the jobs' waits (submit → first start; a job that never starts waits
  for ever): ``p95<1h`` (the 95th percentile of every job's wait), ``median<10m``, ``mean<30m``, or per org:
  ``org-median<10m`` (every org's median wait), ``org-p90<2h`` (:func:`parse_objective`).
* A **candidate** is a cluster of ``nodes`` nodes of ``node_gpus`` GPUs of one GPU type, or of several types in
  equal parts (a mix), in the inline layout (racks of 4 nodes, blocks of 8 racks). A GPU type's speed (from the
  known types) shortens every run on it.
* The **search** (:func:`plan`) per option (each type alone, and the even mix of them when several are offered):
  double the node count from ``min_nodes`` until the objective is met, then narrow the bracket until it is within
  ``precision`` (a share of the answer, at least one node). Each round replays ``workers`` candidates at once in a
  process pool (:class:`concurrent.futures.ProcessPoolExecutor`); every replay is a point of the curve. More
  nodes never make waits longer in practice; the search assumes it.
* **Growth**: demand ``growth`` times the trace's, by arrivals ``growth`` times as dense (submit times divided
  by it): the same jobs, more of them per day.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from gpucloud.durations import parse_duration
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import KNOWN_GPU_TYPES, cluster_from_dict, resolve_gpu_type
from gpucloud.sim.engine import SimConfig, simulate
from gpucloud.sim.traces.base import TraceJob

_OBJECTIVE = re.compile(r"^\s*(org-)?(p\d{1,2}(?:\.\d+)?|median|mean)\s*<\s*(\S+)\s*$")
#: the most nodes a candidate may have
MAX_NODES = 100_000


@dataclass(frozen=True, slots=True)
class Objective:
    """``statistic`` (``p95``, ``median``, ``mean``) of the waits, of all jobs or of each org's (``per_org``:
    the worst org counts), below ``limit`` seconds."""

    statistic: str
    limit: float
    per_org: bool = False
    text: str = ""

    def value(self, waits: Sequence[float], orgs: Sequence[str]) -> float:
        """The statistic the objective bounds (the worst org's with ``per_org``)."""
        if not self.per_org:
            return _stat(self.statistic, waits)
        by_org: dict[str, list[float]] = {}
        for w, o in zip(waits, orgs, strict=True):
            by_org.setdefault(o, []).append(w)
        return max((_stat(self.statistic, ws) for ws in by_org.values()), default=0.0)


def parse_objective(text: str) -> Objective:
    """``p95<1h``, ``median<10m``, ``mean<30m``, ``org-median<10m``, ``org-p90<2h``; :class:`InputError` naming
    ``objective`` otherwise."""
    m = _OBJECTIVE.match(text)
    if not m:
        raise InputError("objective", "must look like p95<1h, median<10m, mean<30m or org-median<10m", text)
    stat = m.group(2)
    if stat.startswith("p") and not 0 < float(stat[1:]) < 100:
        raise InputError("objective", "a percentile must be between 0 and 100", text)
    try:
        limit = parse_duration(m.group(3))
    except ValueError as exc:
        raise InputError("objective", f"the wait limit {exc}", text) from None
    if limit <= 0:
        raise InputError("objective", "the wait limit must be positive", text)
    return Objective("p50" if stat == "median" else stat, limit, m.group(1) is not None, text.strip())


def _stat(statistic: str, values: Sequence[float]) -> float:
    if not values:
        return 0.0
    if statistic == "mean":
        return sum(values) / len(values)
    ordered = sorted(values)
    q = float(statistic[1:]) / 100
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


@dataclass(frozen=True, slots=True)
class Option:
    """A kind of cluster: GPU types in equal parts, ``node_gpus`` GPUs per node."""

    gpu_types: tuple[str, ...]
    node_gpus: int = 8

    @property
    def name(self) -> str:
        return " + ".join(self.gpu_types) if len(self.gpu_types) > 1 else self.gpu_types[0]

    def cluster(self, nodes: int) -> Cluster:
        """``nodes`` nodes, split as evenly as possible over the types (the first types get one more)."""
        per, extra = divmod(nodes, len(self.gpu_types))
        racks: list[dict[str, object]] = []
        for i, t in enumerate(self.gpu_types):  # racks of 4 nodes of one type, as the inline clusters have
            left = per + (i < extra)
            while left > 0:
                take = min(4, left)
                racks.append({"name": f"r{len(racks)}", "nodes": [
                    {"name": f"n{i}", "count": take, "gpus": self.node_gpus, "gpu_type": t}]})
                left -= take
        blocks = [{"name": f"b{i // 8}", "racks": racks[i:i + 8]} for i in range(0, len(racks), 8)]
        types = {t: {"memory_gb": KNOWN_GPU_TYPES[t].memory_gb, "speed": KNOWN_GPU_TYPES[t].speed}
                 for t in self.gpu_types}
        return cluster_from_dict({"name": f"{nodes}x{self.node_gpus} {self.name}", "gpu_types": types,
                                  "blocks": blocks})


def options_for(types: Sequence[str], node_gpus: int) -> list[Option]:
    """Each type alone and, with several, all of them in equal parts. :class:`InputError` for an unknown type."""
    names = []
    for t in types:
        try:
            names.append(resolve_gpu_type(t))
        except Exception:
            raise InputError("types", f"unknown GPU type (known: {', '.join(KNOWN_GPU_TYPES)})", t) from None
    if not names:
        raise InputError("types", "name at least one GPU type", "")
    if node_gpus < 1 or node_gpus > 1024:
        raise InputError("node_gpus", "must be 1 to 1024", node_gpus)
    out = [Option((n,), node_gpus) for n in dict.fromkeys(names)]
    return out + ([Option(tuple(dict.fromkeys(names)), node_gpus)] if len(out) > 1 else [])


@dataclass(frozen=True, slots=True)
class Point:
    """One replay: the option's name, nodes, GPUs, the objective's statistic (seconds), the p50 and p95 wait of all
    jobs, the share of GPU time used, whether it meets the objective, and its wall time."""

    option: str
    nodes: int
    gpus: int
    value: float
    p50: float
    p95: float
    utilisation: float
    meets: bool
    wall_s: float


@dataclass
class Answer:
    """Per option, the smallest node count found that meets the objective (None: not up to ``max_nodes``) and every
    point replayed, by node count."""

    objective: Objective
    policy: str
    growth: float
    smallest: dict[str, Point | None] = field(default_factory=dict)
    curve: dict[str, list[Point]] = field(default_factory=dict)


def grown(jobs: Sequence[TraceJob], growth: float) -> list[TraceJob]:
    """The jobs with arrivals ``growth`` times as dense (:class:`InputError` unless 0 < growth ≤ 100)."""
    if not (math.isfinite(growth) and 0 < growth <= 100):
        raise InputError("growth", "must be a factor above 0 and at most 100", growth)
    if growth == 1:
        return list(jobs)
    return [dataclasses.replace(j, spec=dataclasses.replace(j.spec, submit_time=j.spec.submit_time / growth))
            for j in jobs]


# -- one replay (in a worker process) ---------------------------------------------------------------------------
_JOBS: list[TraceJob] = []


def _load(jobs: list[TraceJob]) -> None:
    global _JOBS
    _JOBS = jobs


def replay(option: Option, nodes: int, policy: str, objective: Objective) -> Point:
    """Replay the worker's jobs on ``nodes`` nodes of ``option``."""
    started = time.perf_counter()
    cluster = option.cluster(nodes)
    result = simulate(cluster, _JOBS, policy, config=SimConfig(known_durations=False))
    waits = [math.inf if r.wait_time is None else r.wait_time for r in result.jobs]
    value = objective.value(waits, [r.org for r in result.jobs])
    span = max(result.makespan, 1.0)
    return Point(option.name, nodes, cluster.total_gpus, value, _stat("p50", waits), _stat("p95", waits),
                 result.busy_gpu_seconds / (span * cluster.total_gpus), value < objective.limit,
                 time.perf_counter() - started)


def plan(jobs: Sequence[TraceJob], options: Sequence[Option], policy: str, objective: Objective, *,
         growth: float = 1.0, workers: int = 1, min_nodes: int = 1, max_nodes: int = 4096, precision: float = 0.02,
         progress: Callable[[Point], None] | None = None) -> Answer:
    """Search each option for the smallest cluster meeting ``objective`` (see the module); ``progress`` is told
    every point as it is replayed."""
    if not 1 <= min_nodes <= max_nodes <= MAX_NODES:
        raise InputError("max_nodes", f"must be at least min_nodes ({min_nodes}) and at most {MAX_NODES}", max_nodes)
    if workers < 1:
        raise InputError("cores", "must be at least 1", workers)
    answer = Answer(objective, policy, growth)
    scaled = grown(jobs, growth)
    with ProcessPoolExecutor(max_workers=workers, initializer=_load, initargs=(scaled,)) as pool:
        for option in options:
            seen: dict[int, Point] = {}

            def run(counts: list[int], option: Option = option, seen: dict[int, Point] = seen) -> None:
                todo = sorted({n for n in counts if n not in seen})
                for point in pool.map(replay, [option] * len(todo), todo, [policy] * len(todo),
                                      [objective] * len(todo)):
                    seen[point.nodes] = point
                    if progress is not None:
                        progress(point)

            lo, hi = min_nodes - 1, None  # lo fails (0: not tried), hi meets
            n = min_nodes
            while hi is None and n <= max_nodes:  # bracket: doubling, `workers` sizes a round
                batch: list[int] = []
                while len(batch) < workers and n <= max_nodes:
                    batch.append(n)
                    n *= 2
                run(batch)
                for b in batch:
                    if seen[b].meets:
                        hi = b
                        break
                    lo = b
            if hi is None and lo < max_nodes:
                run([max_nodes])
                hi = max_nodes if seen[max_nodes].meets else None
            while hi is not None and hi - lo > max(1, int(precision * hi)):  # narrow
                step = (hi - lo) / (workers + 1)
                run([max(lo + 1, min(hi - 1, round(lo + step * (k + 1)))) for k in range(workers)])
                for count in sorted(c for c in seen if lo < c < hi):
                    if seen[count].meets:
                        hi = count
                        break
                    lo = count
            answer.smallest[option.name] = seen[hi] if hi is not None else None
            answer.curve[option.name] = [seen[k] for k in sorted(seen)]
    return answer
