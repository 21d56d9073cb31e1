"""Job commands: ``submit``, ``jobs``, ``job ID``, ``cancel``, ``logs [-f]``, ``queue`` — thin clients of the API
through the SDK's :class:`~gpucloud.sdk.client.Client`."""

from __future__ import annotations

import argparse
import sys
import time

from gpucloud.cli.command import JSON, Arg, Group, Namespace, float_min, int_range, whole
from gpucloud.cli.forecast_view import forecast_fields, print_advice, start_cells
from gpucloud.cli.output import (
    echo,
    fmt_command,
    fmt_duration,
    fmt_placement,
    fmt_shape,
    fmt_time,
    fmt_when,
    print_fields,
    print_json,
    print_table,
    styled_state,
)
from gpucloud.errors import InputError
from gpucloud.sdk.calls import MAX_PAGE, new_idempotency_key, submit_body
from gpucloud.sdk.client import Client

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

STATES = ("pending", "admitted", "running", "preempting", "succeeded", "failed", "cancelled", "timed_out")

commands = Group()

JOB_ID = Arg("job_id", metavar="JOB", type=whole, help="The job id.")


def parse_env(pairs: list[str]) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` → ``{"A": "1", "B": "x=y"}``; an entry without ``=`` or a name is an error."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError("--env", "must be KEY=VALUE", pair)
        env[key] = value
    return env


def command_of(words: list[str]) -> list[str]:
    """The job's command line: the words after ``--`` (or from the first one that is not an option)."""
    argv = words[1:] if words[:1] == ["--"] else words
    if not argv:
        raise InputError("COMMAND", "give the command to run after --, e.g. gpucloud submit -- python train.py")
    return argv


@commands.command(
    "submit",
    Arg("--gpus", type=int_range(1), help="GPUs in total (default 1)."),
    Arg("--nodes", type=int_range(1), help="Run as a gang over this many nodes."),
    Arg("--gpus-per-node", type=int_range(1), help="GPUs on each node (with --nodes)."),
    Arg("--gpu-type", help="e.g. H100-80GB (default: any)."),
    Arg("--walltime", help="e.g. 3600, 30m, 1h30m (default 1h)."),
    Arg("--priority", help="low, normal, high or urgent."),
    Arg("--preemptible", action=argparse.BooleanOptionalAction, default=True,
        help="Whether the scheduler may preempt it (default: yes)."),
    Arg("--grace", help="Time between SIGTERM and SIGKILL (default 10s)."),
    Arg("--org", help="Org to run in (operators; default: yours)."),
    Arg("--project", help="Project to charge (default: default)."),
    Arg("--name", help="A name to recognise the job by."),
    Arg("--env", "-e", action="append", default=[], metavar="KEY=VALUE", help="An environment variable; repeatable."),
    Arg("--cwd", help="Working directory (default: the current one)."),
    Arg("--idempotency-key", help="Resubmitting with the same key returns the first job (default: random)."),
    Arg("--service-class", help="How it is priced: standard, interactive or preemptible."),
    Arg("--reservation", help="Run inside this reservation of your org (its name or #id)."),
    JSON,
    Arg("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...", help="The program and its arguments."),
    epilog="example: gpucloud submit --gpus 2 --walltime 1h -- python examples/jobs/train.py",
)
def submit(a: Namespace) -> None:
    """Submit a job and print its id.

    Everything after -- is the command (the first word that is not an option also starts it). A lost answer is
    sent again with the same idempotency key, so it never makes two jobs."""
    try:
        body = submit_body(
            command_of(a.command), gpus=a.gpus, nodes=a.nodes, gpus_per_node=a.gpus_per_node,
            preemptible=None if a.preemptible else False, env=parse_env(a.env), cwd=a.cwd,
            idempotency_key=a.idempotency_key or new_idempotency_key("cli"), gpu_type=a.gpu_type,
            walltime=a.walltime, priority=a.priority, grace=a.grace, org=a.org, project=a.project, name=a.name,
            service_class=a.service_class, reservation=a.reservation)
    except InputError as exc:  # the SDK names its arguments; name the options here
        raise InputError("--" + exc.field.replace("_", "-"), exc.reason, exc.value) from None
    with Client() as client:
        job = client.post("/jobs", body, retries=1)
    if a.as_json:
        print_json(job)
        return
    echo(str(job["id"]))
    if not job.get("created", True):
        echo(f"job {job['id']} was already submitted with this idempotency key", err=True)


def _job_rows(items: list[dict[str, Any]]) -> list[list[object]]:
    return [[j["id"], j["name"], styled_state(j["state"]), j["org"], j["user"], fmt_shape(j),
             fmt_duration(j["walltime_s"]), fmt_when(j["submitted_at"]), fmt_command(j["argv"], 30), j["reason"]]
            for j in items]


JOB_COLUMNS = ("ID", "NAME", "STATE", "ORG", "USER", "GPUS", "WALLTIME", "SUBMITTED", "COMMAND", "REASON")


@commands.command(
    "jobs",
    Arg("--state", choices=STATES, metavar="STATE", help=f"Only jobs in this state: {', '.join(STATES)}."),
    Arg("--org", help="Only this org's jobs."),
    Arg("--user", help="Only this user's jobs."),
    Arg("--limit", type=int_range(1, MAX_PAGE), default=50, help="Show at most this many (default 50)."),
    Arg("--all", dest="all_pages", action="store_true", help="Fetch every page, not just the newest --limit."),
    JSON,
)
def list_jobs(a: Namespace) -> None:
    """List the jobs you may see, newest first."""
    items: list[dict[str, Any]] = []
    cursor: int | None = None
    with Client() as client:
        pages = client.job_pages(state=a.state, org=a.org, user=a.user, page_size=MAX_PAGE if a.all_pages else a.limit)
        for page in pages:
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if not a.all_pages:
                break
    if a.as_json:
        print_json({"items": items, "next_cursor": cursor})
        return
    print_table(JOB_COLUMNS, _job_rows(items), empty="no jobs")
    if cursor is not None:
        echo(f"(showing the newest {len(items)}; --all or a bigger --limit for more)", err=True)


@commands.command("job", JOB_ID, Arg("--advice", action="store_true", help="A pending job: the shapes it could "
                                       "ask for instead, and when each would start and end."), JSON)
def show_job(a: Namespace) -> None:
    """Show one job: its request, where it runs, its predicted start while it waits, and every state change."""
    with Client() as client:
        job = client.get(f"/jobs/{a.job_id}")
        advice = client.get(f"/jobs/{a.job_id}/advice") if a.advice and job["state"] == "pending" else None
    if a.as_json:
        print_json(job if advice is None else {**job, "advice": advice})
        return
    print_fields([
        ("id", job["id"]), ("name", job["name"]), ("state", styled_state(job["state"])), ("reason", job["reason"]),
        ("org / project", f"{job['org']} / {job['project']}"), ("user", job["user"]),
        ("command", " ".join(job["argv"])), ("cwd", job["cwd"]),
        ("env", " ".join(f"{k}={v}" for k, v in job["env"].items())),
        ("gpus", fmt_shape(job)), ("walltime", fmt_duration(job["walltime_s"])),
        ("priority", f"{job['priority']} ({job['priority_value']})"),
        ("preemptible", f"{'yes' if job['preemptible'] else 'no'}, grace {fmt_duration(job['grace_s'])}"),
        ("submitted", fmt_time(job["submitted_at"])), ("started", fmt_time(job["started_at"])),
        ("ended", fmt_time(job["ended_at"])), ("exit code", job["exit_code"]),
        ("placement", fmt_placement(job["placement"])),
        ("runs / preemptions", f"{job['run_count']} / {job['preemptions']}"),
    ] + ([("cancel", "requested")] if job["cancel_requested"] else []) + forecast_fields(job.get("forecast")),
        title=f"job {job['id']}")
    if advice is not None:
        echo()
        print_advice(advice)
    echo()
    print_table(("TIME", "FROM", "TO", "REASON"),
                [[fmt_time(e["at"]), e["from_state"] or "", styled_state(e["to_state"]), e["reason"]]
                 for e in job["events"]], title="events", empty="no events")


@commands.command("cancel", JOB_ID, JSON)
def cancel(a: Namespace) -> None:
    """Cancel a job: a pending one at once, a running one is stopped by the control loop."""
    with Client() as client:
        job = client.post(f"/jobs/{a.job_id}/cancel")
    if a.as_json:
        print_json(job)
    elif job["state"] == "cancelled":
        echo(f"job {job['id']} cancelled")
    else:
        echo(f"job {job['id']} is {job['state']}: cancel requested, the control loop stops it")


@commands.command(
    "logs", JOB_ID,
    Arg("--follow", "-f", action="store_true", help="Keep printing until the job ends."),
    Arg("--stderr", action="store_true", help="Read stderr instead of stdout."),
    Arg("--rank", type=int_range(0), default=0,
        help="Whose output: the rank (the node of a multi-node gang, in placement order; default 0)."),
    Arg("--poll", type=float_min(0.05), default=1.0, help="Seconds between polls with -f (default 1)."),
    JSON,
)
def logs(a: Namespace) -> None:
    """Print a job's stdout (or --stderr) of rank 0 (or --rank N); with -f follow it until the job ends."""
    collected: list[str] = []
    last: dict[str, Any] = {}
    with Client() as client:
        for last in client.log_pages(a.job_id, stream="stderr" if a.stderr else "stdout", follow=a.follow,
                                     poll=a.poll, rank=a.rank):
            if a.as_json:
                collected.append(last["text"])
            elif last["text"]:
                sys.stdout.write(last["text"])
                sys.stdout.flush()
    if a.as_json:
        print_json({**last, "text": "".join(collected), "offset": 0})


@commands.command("queue", Arg("--org", help="Only this org's entries (operators)."),
                  Arg("--start", action="store_true", help="Add each job's predicted start, its range (p10-p90) "
                      "and what it waits for (docs/forecasts.md)."), JSON)
def show_queue(a: Namespace) -> None:
    """The pending jobs you may see, in queue order, with why each one waits (--start: and when it should start)."""
    with Client() as client:
        queue = client.get("/queue", org=a.org, start="true" if a.start else None)
    if a.as_json:
        print_json(queue)
        return
    now = time.time()
    rows = [[e["position"], e["job"]["id"], e["job"]["name"], e["job"]["org"], e["job"]["user"], e["job"]["num_gpus"],
             _shape_only(e["job"]), e["job"]["priority"], fmt_duration(max(0.0, now - e["job"]["queued_at"]))]
            + (start_cells(e.get("forecast"), now) if a.start else [e["job"]["reason"]]) for e in queue["items"]]
    print_table(("POS", "JOB", "NAME", "ORG", "USER", "GPUS", "SHAPE", "PRIORITY", "WAITING")
                + (("START", "IN", "RANGE", "WAITS FOR") if a.start else ("REASON",)), rows,
                empty="no pending jobs you may see")
    echo(f"{len(rows)} shown, {queue['total_pending']} pending in the whole queue", err=True)


def _shape_only(job: dict[str, Any]) -> str:
    """``2×8`` for an explicit gang, ``auto`` when the scheduler picks the nodes; with the GPU type if set."""
    return fmt_shape(job) if job.get("nodes") else " ".join(filter(None, ["auto", job.get("gpu_type")]))
