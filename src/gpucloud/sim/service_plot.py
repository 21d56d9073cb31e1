"""The week of a replay with services in one chart: the services' demand, their allocation and the AI work on
their sites, in GPUs over time (mean per bin), for the harvesting replay and its fenced twin
(:mod:`gpucloud.sim.service_replay`). matplotlib as in :mod:`gpucloud.sim.plots`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gpucloud.sim.plots import DAY, _figure, _save
from gpucloud.sim.service_replay import ServiceReplay

#: bin width of the chart (seconds)
BIN = 900.0


def series(replay: ServiceReplay, width: float = BIN) -> dict[str, np.ndarray]:
    """Per bin of ``width`` seconds over the window: ``demand`` (GPUs the services want), ``services`` (GPUs their
    replicas hold) and ``ai`` (GPUs jobs hold on the services' nodes), each the mean over the bin."""
    bins = int(np.ceil(replay.length / width))
    edges = np.arange(bins + 1) * width
    sites = {n for s in replay.services for n in s.nodes}

    def integrate(steps: list[tuple[float, float, float]]) -> np.ndarray:
        """Mean level per bin of pieces ``(start, end, level)``."""
        out = np.zeros(bins)
        for a, b, level in steps:
            a, b = max(a, 0.0), min(b, replay.length)
            while a < b:
                i = int(a // width)
                e = min(b, edges[i + 1])
                out[i] += level * (e - a)
                a = e
        return out / width

    demand: list[tuple[float, float, float]] = []
    held: list[tuple[float, float, float]] = []
    for s in replay.services:
        t, value = 0.0, s.demand.at(0.0)
        c = s.demand.next_change(0.0)
        while c is not None and c < replay.length:
            demand.append((t, c, value * s.gpus))
            t, value = c, s.demand.at(c)
            c = s.demand.next_change(c)
        demand.append((t, replay.length, value * s.gpus))
        counts = replay.counts[s.name]
        for (t0, n), (t1, _) in zip(counts, [*counts[1:], (replay.length, 0)], strict=True):
            held.append((t0, t1, n * s.gpus))
    ai = [(seg.start_time, seg.end_time, float(sum(len(g) for n, g in seg.placement.nodes if n in sites)))
          for seg in replay.result.segments]
    return {"time": edges[:-1], "demand": integrate(demand), "services": integrate(held),
            "ai": integrate([p for p in ai if p[2]])}


def plot_services(harvest: ServiceReplay, fenced: ServiceReplay, path: Path) -> Path:
    """Two panels, the harvesting replay above the fenced one: services' allocation and AI work stacked, and the
    services' demand as a line, against the sites' GPUs."""
    cluster = harvest.result.cluster
    site_gpus = sum(cluster.nodes[n].gpus for n in {n for s in harvest.services for n in s.nodes})
    fig = _figure(10, 6)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, replay, title in ((axes[0], harvest, "services follow their demand; AI work fills the rest"),
                              (axes[1], fenced, "fenced: the services' peak held all week")):
        s = series(replay)
        x = s["time"] / DAY
        ax.stackplot(x, s["services"], s["ai"], labels=["service replicas", "AI jobs"], step="post",
                     colors=["tab:orange", "tab:blue"], alpha=0.6)
        ax.step(x, s["demand"], where="post", color="black", linewidth=0.8, label="service demand")
        ax.axhline(site_gpus, color="grey", linestyle="--", linewidth=0.8, label="site GPUs")
        ax.set_ylim(0, site_gpus * 1.08)
        ax.set_ylabel("GPUs")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=8, ncol=4)
    axes[1].set_xlabel("time (days from the window's start)")
    axes[1].set_xlim(0, harvest.length / DAY)
    fig.suptitle(f"services and AI work on {cluster.name} ({cluster.total_gpus:,} GPUs)")
    return _save(fig, path)
