"""``gpucloud plan``: the smallest cluster that meets a wait objective for a trace (optionally grown), found by
replaying it on candidate sizes in a process pool (:mod:`gpucloud.sim.plan`); prints each replay as it ends
(a progress bar on a terminal), the answer and its curve, and writes ``plan.png`` and ``plan.html``
(:mod:`gpucloud.sim.plan_report`) into ``--out``."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gpucloud.cli.errors import handle_errors
from gpucloud.core.policies import POLICIES
from gpucloud.errors import InputError
from gpucloud.sim.plan import Point, options_for, parse_objective
from gpucloud.sim.plan import plan as search
from gpucloud.sim.traces import read_trace


def duration(seconds: float) -> str:
    """A wait as the tables print it: s, min, h or d; ``never`` for a job that never started."""
    if not math.isfinite(seconds):
        return "never"
    for unit, size, limit in (("s", 1, 120), ("min", 60, 7200), ("h", 3600, 172_800)):
        if seconds < limit:
            return f"{seconds / size:.0f} s" if unit == "s" else f"{seconds / size:.1f} {unit}"
    return f"{seconds / 86_400:.1f} d"


@handle_errors
def plan(
    trace: Annotated[Path, typer.Option(help="Trace file (CSV).", metavar="FILE")],
    objective: Annotated[str, typer.Option(
        help="The wait objective: p95<1h, median<10m, mean<30m, or per org: org-median<10m.")] = "p95<1h",
    policy: Annotated[str, typer.Option(help=f"Policy: {', '.join(POLICIES.names())}.")] = "backfill",
    growth: Annotated[float, typer.Option(help="Demand × this (arrivals this much denser).")] = 1.0,
    types: Annotated[str, typer.Option(
        help="GPU types offered, comma-separated; with several, each alone and all in equal parts.")] = "H100-80GB",
    node_gpus: Annotated[int, typer.Option(help="GPUs per node.")] = 8,
    min_nodes: Annotated[int, typer.Option(help="The smallest cluster tried (nodes).")] = 8,
    max_nodes: Annotated[int, typer.Option(help="The largest cluster tried (nodes).")] = 4096,
    precision: Annotated[float, typer.Option(help="Stop when the answer is known within this share.")] = 0.02,
    cores: Annotated[int, typer.Option(help="Replays at once (processes; default: the CPUs this may use).")] = 0,
    limit: Annotated[int | None, typer.Option(help="Only the first N jobs (by submit time).", metavar="N")] = None,
    out: Annotated[Path, typer.Option(help="Write plan.png and plan.html here.", metavar="DIR")] = Path("plan"),
) -> None:
    """Find the smallest cluster that meets a wait objective, by replaying the trace on candidate sizes."""
    goal = parse_objective(objective)
    POLICIES.get(policy)
    if not 0 < precision < 1:
        raise InputError("--precision", "must be a share between 0 and 1", precision)
    if limit is not None and limit < 1:
        raise InputError("--limit", "must be at least 1", limit)
    workers = cores or len(os.sched_getaffinity(0))
    if workers < 1 or workers > 256:
        raise InputError("--cores", "must be 1 to 256", cores)
    options = options_for([t.strip() for t in types.split(",") if t.strip()], node_gpus)
    data = read_trace(trace)
    jobs = data.jobs[:limit] if limit else data.jobs
    console = Console()
    console.print(f"{len(jobs):,} jobs of {trace.name}, demand × {growth:g}, policy {policy}, objective "
                  f"{goal.text}; {workers} replays at once")

    stat = f"{'worst org ' if goal.per_org else ''}{goal.statistic} wait"

    def shown(p: Point) -> None:
        console.print(f"  {p.option}: {p.nodes:,} nodes, {p.gpus:,} GPUs: {stat} "
                      f"{duration(p.value)}, {'meets' if p.meets else 'misses'} ({p.wall_s:.1f} s)", soft_wrap=True)

    answer = search(jobs, options, policy, goal, growth=growth, workers=workers, min_nodes=min_nodes,
                    max_nodes=max_nodes, precision=precision, progress=shown)
    table = Table(title=f"smallest cluster for {goal.text}")
    for col in ("option", "nodes", "GPUs", stat, "p50 / p95 wait", "GPU utilisation"):
        table.add_column(col, justify="right")
    for name, best in answer.smallest.items():
        if best is None:
            table.add_row(name, f"> {max_nodes:,}", "-", "-", "-", "-")
        else:
            table.add_row(name, f"{best.nodes:,}", f"{best.gpus:,}", duration(best.value),
                          f"{duration(best.p50)} / {duration(best.p95)}", f"{best.utilisation:.0%}")
    console.print(table)
    from gpucloud.sim.plan_report import write_report

    for path in write_report(answer, out, trace.name):
        console.print(f"wrote {path}")
