"""``gpucloud simulate``: replay a job trace on a cluster under one or more policies and compare them.

Prints one table (rows: metrics, columns: policies); shows a progress bar per policy when stdout is a
terminal. With ``--out DIR`` writes each policy's ``jobs.csv``, ``allocations.csv``, ``summary.json`` and
``utilisation.png`` into ``DIR/POLICY/`` (into ``DIR/`` itself when one policy runs), and the CDFs of wait
time and JCT of all policies into ``DIR/wait_cdf.png`` and ``DIR/jct_cdf.png``. The charts need matplotlib (the
``plots`` extra): without it a note says so before the replay and only the CSVs and summaries are written.

With ``--tariff FILE`` every run is priced (:mod:`gpucloud.sim.money`): a cost table per policy is printed and
``costs.csv`` written next to ``summary.json``; ``--budgets FILE`` (org → points) enforces budgets in the
replay and the table says who ran dry and when; ``--trace-start`` dates trace time 0 (default: the first
tariff's ``valid_from``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gpucloud.cli.errors import handle_errors
from gpucloud.core.policies import POLICIES
from gpucloud.core.scheduler import Scheduler
from gpucloud.core.types import PendingJob
from gpucloud.errors import InputError, UnknownNameError
from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import load_cluster
from gpucloud.model.org import Org
from gpucloud.model.org_file import load_orgs
from gpucloud.money.tariff_file import load_tariffs
from gpucloud.sim.budget_file import load_budgets
from gpucloud.sim.traces import (
    DEFAULT_WALLTIME_FACTOR,
    FORMATS,
    Trace,
    TraceJob,
    alibaba_cluster,
    detect_format,
    read_trace,
)
from gpucloud.times import time_input

if TYPE_CHECKING:  # the simulator and its metrics (numpy) load only when a simulation runs
    from gpucloud.sim.metrics import Summary
    from gpucloud.sim.money import MoneyConfig
    from gpucloud.sim.money_report import MoneyReport

#: The node list that ``--cluster alibaba`` reads, next to the Alibaba pods file.
ALIBABA_NODES_FILE = "alibaba2023_gpu_nodes.csv"

Progressor = Callable[[str], Callable[[int, int], None] | None]


def parse_policies(text: str) -> list[str]:
    """``fifo,backfill`` → ``["fifo", "backfill"]`` (repeats dropped); unknown names raise with a hint."""
    names = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not names:
        raise InputError("--policy", "give at least one policy name", text)
    for name in names:
        POLICIES.get(name)
    return names


def resolve_cluster(spec: str | None, trace: Path, fmt: str) -> Cluster:
    """The cluster to replay on: a file or inline spec, or the Alibaba node list next to an Alibaba trace."""
    if spec is not None and spec != "alibaba":
        return load_cluster(spec)
    if spec is None and fmt != "alibaba":
        raise InputError("--cluster", f"required for a {fmt} trace (a cluster file or NxG[:TYPE], e.g. 80x8)")
    nodes = trace.parent / ALIBABA_NODES_FILE
    if not nodes.exists():
        raise InputError("--cluster", f"no Alibaba node list {ALIBABA_NODES_FILE} next to the trace", str(nodes))
    return alibaba_cluster(nodes)


def check_fits(cluster: Cluster, orgs: dict[str, Org] | None, jobs: list[TraceJob], source: str) -> None:
    """Raise an :class:`InputError` naming the first job that can never run on ``cluster``."""
    scheduler = Scheduler(cluster, orgs)
    for tj in jobs:
        try:
            scheduler.shapes_for(PendingJob(tj.spec))
        except InputError as exc:
            raise InputError(exc.field, exc.reason, exc.value,
                             where=f"{source}: job {tj.spec.id!r} on cluster {cluster.name}") from None


def duration(seconds: float | None) -> str:
    """As the simulator's tables print a duration (s, min, h, d; ``-`` for none)."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def summary_rows(s: Summary) -> list[tuple[str, str]]:
    """The table's (metric, value) rows for one run."""
    rows = [("jobs", f"{s.jobs:,}")]
    for what, st in (("wait", s.wait), ("JCT", s.jct)):
        rows += [(f"{what} avg", duration(st.avg)), (f"{what} median", duration(st.median)),
                 (f"{what} p95", duration(st.p95)), (f"{what} p99", duration(st.p99))]
    fair = "-" if s.jain_fairness is None else f"{s.jain_fairness:.3f}"
    share = "-" if s.jain_share is None else f"{s.jain_share:.3f}"
    rows += [
        ("longest wait (any job, once)", duration(s.longest_wait)),
        ("makespan", duration(s.makespan)),
        ("GPU utilisation", f"{s.utilisation:.1%}"),
        ("GPU-hours", f"{s.gpu_hours:,.0f}"),
        ("Jain fairness (slowdown)", fair),
        ("Jain fairness (share/weight)", share),
        ("preemptions", f"{s.preemptions:,}"),
        ("work lost to preemption", f"{s.lost_gpu_hours:,.0f} GPU-h ({s.lost_share:.1%})"),
        ("timed out", f"{s.timed_out:,}"),
        ("scheduling cycles", f"{s.cycles:,}"),
        ("simulator wall time", f"{s.wall_time:.2f} s"),
    ]
    return rows


def summary_table(summaries: list[Summary]) -> Table:
    table = Table(title="simulation summary")
    table.add_column("metric", no_wrap=True)
    for s in summaries:
        table.add_column(s.policy, justify="right", no_wrap=True)
    columns = [summary_rows(s) for s in summaries]
    for i, (name, _) in enumerate(columns[0]):
        table.add_row(name, *(col[i][1] for col in columns))
    return table


def parse_trace_start(text: str) -> float:
    """A date (midnight UTC), a date-time, or UTC epoch seconds → epoch seconds (:mod:`gpucloud.times`)."""
    return time_input("--trace-start", text)


def money_config(tariff: Path | None, budgets: Path | None, trace_start: str | None, cluster: Cluster,
                 data: Trace, jobs: list[TraceJob]) -> MoneyConfig | None:
    """The prices (and budgets) of the replay, checked against the cluster, the trace and its jobs."""
    if tariff is None:
        for option, given in (("--budgets", budgets), ("--trace-start", trace_start)):
            if given is not None:
                raise InputError(option, "needs --tariff (budgets and dates are about prices)", str(given))
        return None
    from gpucloud.sim.money import MoneyConfig, gpu_types_used

    book = load_tariffs(tariff, cluster)
    start = parse_trace_start(trace_start) if trace_start is not None else None
    amounts: dict[str, Decimal] | None = load_budgets(budgets, data.orgs) if budgets is not None else None
    try:
        config = MoneyConfig(book, amounts, start)
    except InputError as exc:
        if exc.field != "trace_start":
            raise
        raise InputError("--trace-start", exc.reason, trace_start) from None
    try:
        config.check_priced(gpu_types_used(cluster, (j.spec for j in jobs))[1])
    except InputError as exc:
        raise InputError(exc.field, exc.reason, exc.value, where=str(tariff)) from None
    return config


def _points(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.4f}"


def cost_table(policy: str, report: MoneyReport) -> Table:
    """Per org: GPU-hours and points; with budgets also the budget, what is left, when it ran dry and how
    many jobs waited for budget or never ran."""
    table = Table(title=f"costs under {policy}")
    table.add_column("org", no_wrap=True)
    for name in ("GPU-hours", "points"):
        table.add_column(name, justify="right", no_wrap=True)
    if report.budgets:
        for name in ("budget", "left", "ran dry at", "waited", "never ran"):
            table.add_column(name, justify="right", no_wrap=True)
    for org, o in report.orgs.items():
        row = [org, f"{o.gpu_hours:,.1f}", _points(o.points)]
        if report.budgets:
            dry = "-" if o.ran_dry_at is None else duration(o.ran_dry_at)
            row += [_points(o.budget), _points(o.left), dry, f"{o.jobs_waited:,}", f"{o.jobs_never_ran:,}"]
        table.add_row(*row)
    total_hours = sum((o.gpu_hours for o in report.orgs.values()), Decimal(0))
    table.add_section()
    table.add_row("total", f"{total_hours:,.1f}", _points(report.points), *([""] * (5 if report.budgets else 0)))
    return table


@contextmanager
def progress_bars(console: Console, total: int) -> Iterator[Progressor]:
    """Yield ``start(policy)`` → a progress callback, or None for each policy when not on a terminal."""
    if not console.is_terminal:
        yield lambda _policy: None
        return
    columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("jobs"), TimeElapsedColumn())
    with Progress(*columns, console=console) as bars:

        def start(policy: str) -> Callable[[int, int], None]:
            task = bars.add_task(policy, total=total)
            return lambda done, n: bars.update(task, completed=done, total=n)

        yield start


def _prepare_out(out: Path) -> bool:
    """Create ``out``; whether charts can be drawn (a note on stderr when not)."""
    out.mkdir(parents=True, exist_ok=True)
    from gpucloud.sim.plots import MISSING, available

    if not available():
        print(f"note: {MISSING}; writing the CSVs and summaries without charts", file=sys.stderr)
        return False
    return True


@handle_errors
def simulate(
    trace: Annotated[Path, typer.Option(help="Trace file (CSV).", metavar="FILE")],
    cluster: Annotated[str | None, typer.Option(
        help="Cluster file (YAML), inline NxG[:TYPE] (e.g. 80x8:H100), or 'alibaba' for the node list next to "
             "an Alibaba trace (the default for that format).", metavar="FILE|NxG[:TYPE]")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="Trace format: philly, alibaba or csv (default: told from the header).")] = None,
    policy: Annotated[str, typer.Option(
        help=f"Policy or comma-separated policies: {', '.join(POLICIES.names())}.",
        metavar="NAME[,NAME...]")] = "fifo",
    orgs: Annotated[Path | None, typer.Option(help="Org file (YAML) with quotas and weights.",
                                              metavar="FILE")] = None,
    out: Annotated[Path | None, typer.Option(help="Write CSVs, summary.json and plots here.",
                                             metavar="DIR")] = None,
    walltime_factor: Annotated[float, typer.Option(
        help="Walltime = duration × this, for traces without walltimes.")] = DEFAULT_WALLTIME_FACTOR,
    checkpoint_interval: Annotated[float, typer.Option(
        help="Seconds between checkpoints of running jobs (0: no work is lost on preemption).")] = 1800.0,
    limit: Annotated[int | None, typer.Option(help="Replay only the first N jobs (by submit time).",
                                              metavar="N")] = None,
    tariff: Annotated[Path | None, typer.Option(
        help="Tariff file (YAML): price every run and report points per org; writes costs.csv.",
        metavar="FILE")] = None,
    budgets: Annotated[Path | None, typer.Option(
        help="Budgets (YAML 'budgets: {org: points}' or CSV org,points): enforce them in the replay; needs "
             "--tariff.", metavar="FILE")] = None,
    trace_start: Annotated[str | None, typer.Option(
        help="UTC date of trace time 0, which picks the tariff version in force (default: the first "
             "tariff's valid_from).", metavar="DATE")] = None,
    services: Annotated[Path | None, typer.Option(
        help="Services file (YAML): replay a window of the trace next to services whose demand follows the day, "
             "and again with their peak fenced off (needs --from).", metavar="FILE")] = None,
    window_from: Annotated[str | None, typer.Option(
        "--from", help="With --services: the window's first day (UTC date of a dated trace such as Philly).",
        metavar="DATE")] = None,
    days: Annotated[float, typer.Option(help="With --services: the window's length in days.")] = 7.0,
    grace: Annotated[float, typer.Option(
        help="With --services: the checkpoint grace (seconds) of the trace's jobs.")] = 120.0,
) -> None:
    """Replay a job trace on a cluster under one or more policies and compare them."""
    if limit is not None and limit < 1:
        raise InputError("--limit", "must be at least 1", limit)
    if checkpoint_interval < 0:
        raise InputError("--checkpoint-interval", "must not be negative", checkpoint_interval)
    names = parse_policies(policy)
    if fmt is not None and fmt not in FORMATS:
        raise UnknownNameError("trace format", fmt, list(FORMATS))
    fmt = fmt or detect_format(trace)
    the_cluster = resolve_cluster(cluster, trace, fmt)
    org_map: dict[str, Org] | None = load_orgs(orgs, the_cluster) if orgs is not None else None
    console = Console()
    if not console.is_terminal:  # a pipe or file: do not squeeze the table into 80 columns
        console = Console(width=200)
    if console.is_terminal:
        with console.status(f"reading {trace.name}"):
            data: Trace = read_trace(trace, fmt, walltime_factor=walltime_factor)
    else:
        data = read_trace(trace, fmt, walltime_factor=walltime_factor)
    jobs = data.jobs[:limit] if limit is not None else data.jobs
    check_fits(the_cluster, org_map, jobs, str(trace))
    if services is not None:
        if budgets is not None:
            raise InputError("--budgets", "a replay with --services prices the lent GPUs only; leave budgets out")
        from gpucloud.cli.simulate_services import run_services

        draw = out is not None and _prepare_out(out)
        run_services(console, the_cluster, replace(data, jobs=jobs), services, names, org_map, window_from, days, grace,
                     checkpoint_interval, tariff, out, draw)
        return
    money = money_config(tariff, budgets, trace_start, the_cluster, data, jobs)
    draw = False
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)  # fail before the replay, not after it
        from gpucloud.sim.plots import MISSING, available

        draw = available()
        if not draw:
            print(f"note: {MISSING}; writing the CSVs and summaries without charts", file=sys.stderr)
    console.print(f"{trace.name}: {len(jobs):,} job{'' if len(jobs) == 1 else 's'} ({fmt}) on {the_cluster.name}: "
                  f"{the_cluster.total_gpus:,} GPUs, {len(the_cluster.nodes):,} nodes", highlight=False)

    from gpucloud.sim.engine import SimConfig, Simulation
    from gpucloud.sim.metrics import summarize

    config = SimConfig(checkpoint_interval=checkpoint_interval, money=money)
    summaries: list[Summary] = []
    reports: dict[str, MoneyReport] = {}
    waits: dict[str, list[float]] = {}
    jcts: dict[str, list[float]] = {}
    with progress_bars(console, len(jobs)) as start:
        for name in names:
            result = Simulation(the_cluster, jobs, name, org_map, config).run(progress=start(name))
            summary = summarize(result)
            summaries.append(summary)
            if result.money is not None:
                reports[name] = result.money
            if out is not None:
                from gpucloud.sim.output import write_run
                from gpucloud.sim.plots import plot_utilisation

                target = out / name if len(names) > 1 else out
                write_run(result, summary, target)
                if draw:
                    plot_utilisation(result, target / "utilisation.png")
                    waits[name] = [r.wait_time for r in result.jobs if r.wait_time is not None]
                    jcts[name] = [r.jct for r in result.jobs if r.jct is not None]
            del result  # keep one run's rows in memory at a time

    console.print(summary_table(summaries))
    if reports:
        from gpucloud.sim.money_report import utc

        first = next(iter(reports.values()))
        console.print(f"priced with tariff {', '.join(first.tariffs)} ({len(first.tariffs)} version"
                      f"{'' if len(first.tariffs) == 1 else 's'}); trace time 0 = {utc(first.trace_start)}"
                      f"{'; budgets enforced' if first.budgets else ''}", highlight=False)
    for name, report in reports.items():
        console.print(cost_table(name, report))
    if out is not None:
        if draw:
            from gpucloud.sim.plots import plot_cdf

            plot_cdf(waits, "wait time", out / "wait_cdf.png")
            plot_cdf(jcts, "JCT", out / "jct_cdf.png")
        console.print(f"wrote results to {out}/", highlight=False)

