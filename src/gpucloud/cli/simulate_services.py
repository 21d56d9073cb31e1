"""``gpucloud simulate --services FILE --from DATE``: replay a window of a trace next to services whose demand
follows the day, and the same window with the services' peak fenced off (:mod:`gpucloud.sim.service_replay`).

Prints what the services got (demand met), what the AI work harvested of the GPUs they left idle, the AI work's
preemptions, lost work, waits and JCTs next to the fenced replay, and (with ``--tariff``) the points the lent GPUs
earned at the preemptible class. With ``--out DIR``: ``services.json`` and the chart ``services.png``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.org import Org
from gpucloud.model.service_file import load_services
from gpucloud.money.tariff_file import load_tariffs
from gpucloud.sim.traces import Trace
from gpucloud.times import time_input

if TYPE_CHECKING:  # the simulator loads only when it runs
    from gpucloud.sim.service_report import ServiceReport


def _h(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f} h"


def report_table(rep: ServiceReport) -> Table:
    table = Table(title="services and harvested GPUs")
    table.add_column("figure", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_row("service demand, mean share of all GPUs", f"{rep.mean_demand_share:.1%}")
    table.add_row("demand met (service-time at the wanted count)", f"{rep.met_time:.2%}")
    table.add_row("demand met (replica-time)", f"{rep.met_replicas:.2%}")
    for s in rep.services:
        table.add_row(f"  {s.name}: met / mean demand", f"{s.met_time:.2%} / {s.mean_demand_gpus:.1f} GPUs")
    table.add_row("GPU-hours left idle by the services", f"{rep.idle_gpu_hours:,.0f}")
    table.add_row("  harvested by AI work", f"{rep.harvested_gpu_hours:,.0f} ({rep.harvested:.1%})")
    for site in rep.sites:
        pts = "" if site.points is None else f", {site.points:,.2f} points"
        table.add_row(f"  {site.service} ({site.gpus} × {site.gpu_type})",
                      f"{site.harvested_gpu_hours:,.0f} GPU-h ({site.harvested:.1%}){pts}")
    if rep.points is not None:
        table.add_row("points earned (preemptible class)", f"{rep.points:,.2f}")
    table.add_row("AI preemptions", f"{rep.ai.preemptions:,}")
    table.add_row("AI work lost", f"{rep.ai.lost_gpu_hours:,.1f} GPU-h")
    for what, a, f in (("AI wait avg", rep.ai.wait.avg, rep.fenced.wait.avg),
                       ("AI wait median", rep.ai.wait.median, rep.fenced.wait.median),
                       ("AI JCT avg", rep.ai.jct.avg, rep.fenced.jct.avg),
                       ("AI JCT median", rep.ai.jct.median, rep.fenced.jct.median)):
        table.add_row(f"{what} (harvest vs fenced)", f"{_h(a)} vs {_h(f)}")
    table.add_row("simulator wall time (both replays)", f"{rep.wall_time:.1f} s")
    return table


def run_services(console: Console, cluster: Cluster, data: Trace, services: Path, policies: list[str],
                 orgs: dict[str, Org] | None, start: str | None, days: float, grace: float,
                 checkpoint_interval: float, tariff: Path | None, out: Path | None, draw: bool) -> None:
    """The replay pair and its report (see the module)."""
    if start is None:
        raise InputError("--from", "a replay with --services needs the window's first day (e.g. 2017-10-23)")
    if len(policies) != 1:
        raise InputError("--policy", "a replay with --services takes one policy", ",".join(policies))
    specs = load_services(services, cluster)
    at = time_input("--from", start)
    price = None
    if tariff is not None:
        price = load_tariffs(tariff, cluster).in_force(at)
    from gpucloud.sim.service_replay import replay_pair
    from gpucloud.sim.service_report import report

    with console.status("replaying with the services and fenced"):
        harvest, fenced = replay_pair(cluster, data, policies[0], specs, at, days, grace, orgs, checkpoint_interval)
    rep = report(harvest, fenced, price)
    console.print(f"{len(harvest.result.jobs):,} jobs submitted from {start} for {days:g} days, "
                  f"{len(specs)} services, policy {policies[0]}", highlight=False)
    console.print(report_table(rep))
    if out is not None:
        doc = {"services": [vars(s) for s in rep.services],
               "sites": [{**vars(s), "points": None if s.points is None else str(s.points)} for s in rep.sites],
               "met_time": rep.met_time, "met_replicas": rep.met_replicas, "harvested": rep.harvested,
               "idle_gpu_hours": rep.idle_gpu_hours, "harvested_gpu_hours": rep.harvested_gpu_hours,
               "points": None if rep.points is None else str(rep.points),
               "ai": rep.ai.to_dict(), "fenced": rep.fenced.to_dict()}
        (out / "services.json").write_text(json.dumps(doc, indent=2, default=str))
        if draw:
            from gpucloud.sim.service_plot import plot_services

            plot_services(harvest, fenced, out / "services.png")
        console.print(f"wrote results to {out}/", highlight=False)
