"""The figures of a replay with services (:mod:`gpucloud.sim.service_replay`), next to its fenced twin.

Definitions, over the window ``[0, length)`` of the replay:

* **demand met** (per service and overall): the share of service-time during which the service ran at least the
  replicas its demand wanted then (``time``), and the share of wanted replica-time it ran (``replicas``); a
  service that wants none counts as met.
* **site**: the nodes of a service (a node in several services counts for the first, in order of service).
  **idle** GPU-hours of a site: its GPUs × the window minus its service's replica GPU-hours; **harvested**:
  GPU-hours of jobs on its nodes in the window. Harvested share = harvested / idle.
* **points**: the harvested GPU-hours priced at the tariff's ``preemptible`` service class (the tariff in force
  at the window's start); None without a tariff.
* AI preemptions, GPU-hours of lost work, waits and JCTs: :func:`gpucloud.sim.metrics.summarize` of each replay.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from gpucloud.model.demand import changes
from gpucloud.money.tariff import Tariff
from gpucloud.sim.metrics import Summary, summarize
from gpucloud.sim.service_replay import ServiceReplay

PREEMPTIBLE = "preemptible"


@dataclass
class SiteFigures:
    service: str
    gpu_type: str
    gpus: int
    service_gpu_hours: float
    idle_gpu_hours: float
    harvested_gpu_hours: float
    points: Decimal | None = None

    @property
    def harvested(self) -> float:
        return self.harvested_gpu_hours / self.idle_gpu_hours if self.idle_gpu_hours > 0 else 1.0


@dataclass
class ServiceFigures:
    """Demand met by one service: shares of time and of replica-time, and its mean demand in GPUs."""

    name: str
    met_time: float
    met_replicas: float
    mean_demand_gpus: float


@dataclass
class ServiceReport:
    length: float
    total_gpus: int
    services: list[ServiceFigures]
    sites: list[SiteFigures]
    met_time: float
    met_replicas: float
    ai: Summary
    fenced: Summary
    points: Decimal | None
    wall_time: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def idle_gpu_hours(self) -> float:
        return sum(s.idle_gpu_hours for s in self.sites)

    @property
    def harvested_gpu_hours(self) -> float:
        return sum(s.harvested_gpu_hours for s in self.sites)

    @property
    def harvested(self) -> float:
        idle = self.idle_gpu_hours
        return self.harvested_gpu_hours / idle if idle > 0 else 1.0

    @property
    def mean_demand_share(self) -> float:
        """The services' mean demand as a share of the cluster's GPUs."""
        return sum(s.mean_demand_gpus for s in self.services) / self.total_gpus


def count_at(series: list[tuple[float, int]], t: float) -> int:
    """The replica count at ``t`` of a ``(time, count)`` series (the count after each time)."""
    i = bisect_right(series, (t, float("inf"))) - 1
    return series[i][1] if i >= 0 else 0


def met(replay: ServiceReplay) -> list[ServiceFigures]:
    out = []
    for s in replay.services:
        series = replay.counts[s.name]
        times = sorted({0.0, *(t for t, _ in series if 0 <= t < replay.length),
                        *(c for c in changes(s.demand, 0.0, replay.length) if c < replay.length)})
        ok_time = wanted_r = got_r = 0.0
        for a, b in zip(times, [*times[1:], replay.length], strict=True):
            want, have = s.demand.at(a), count_at(series, a)
            ok_time += (b - a) if have >= want else 0.0
            wanted_r += want * (b - a)
            got_r += min(have, want) * (b - a)
        out.append(ServiceFigures(s.name, ok_time / replay.length, got_r / wanted_r if wanted_r else 1.0,
                                  wanted_r * s.gpus / replay.length))
    return out


def sites(replay: ServiceReplay, tariff: Tariff | None) -> list[SiteFigures]:
    cluster, length = replay.result.cluster, replay.length
    owner: dict[int, int] = {}
    for i, s in enumerate(replay.services):
        for n in s.nodes:
            owner.setdefault(n, i)
    harvested = [0.0] * len(replay.services)
    for seg in replay.result.segments:
        a, b = max(0.0, seg.start_time), min(length, seg.end_time)
        if b <= a:
            continue
        for n, gs in seg.placement.nodes:
            site = owner.get(n)
            if site is not None:
                harvested[site] += len(gs) * (b - a)
    out = []
    for i, s in enumerate(replay.services):
        gpus = sum(cluster.nodes[n].gpus for n, o in owner.items() if o == i)
        series = replay.counts[s.name]
        busy = 0.0
        for (t, c), nxt in zip(series, [*series[1:], (length, 0)], strict=True):
            busy += c * s.gpus * max(0.0, min(nxt[0], length) - max(t, 0.0))
        idle = gpus * length - busy
        points = None
        if tariff is not None:
            rate = tariff.rate(s.gpu_type, PREEMPTIBLE, "normal")
            exact = rate * Fraction(harvested[i]) / 3600
            points = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.01"))
        out.append(SiteFigures(s.name, s.gpu_type, gpus, busy / 3600, idle / 3600, harvested[i] / 3600, points))
    return out


def report(harvest: ServiceReplay, fenced: ServiceReplay, tariff: Tariff | None = None) -> ServiceReport:
    figures = met(harvest)
    site_figures = sites(harvest, tariff)
    weights = [f.mean_demand_gpus for f in figures]
    total_w = sum(weights) or 1.0
    points = None if tariff is None else sum((s.points or Decimal(0) for s in site_figures), Decimal(0))
    return ServiceReport(
        harvest.length, harvest.result.cluster.total_gpus, figures, site_figures,
        sum(f.met_time for f in figures) / len(figures),
        sum(f.met_replicas * w for f, w in zip(figures, weights, strict=True)) / total_w,
        summarize(harvest.result), summarize(fenced.result), points,
        harvest.result.wall_time + fenced.result.wall_time)
