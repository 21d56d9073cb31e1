"""Job commands: ``submit``, ``jobs``, ``job ID``, ``cancel``, ``logs [-f]``, ``queue`` — thin clients of the API."""

from __future__ import annotations

import os
import secrets
import time
from typing import Annotated, Any

import typer

from gpucloud.cli.client import connect, seg
from gpucloud.cli.errors import handle_errors
from gpucloud.cli.output import (
    JsonOption,
    console,
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

#: The biggest page the server hands out (``--all`` asks for pages this big).
MAX_PAGE = 1000
STATES = ("pending", "admitted", "running", "preempting", "succeeded", "failed", "cancelled", "timed_out")


def parse_env(pairs: list[str]) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` → ``{"A": "1", "B": "x=y"}``; an entry without ``=`` or a name is an error."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError("--env", "must be KEY=VALUE", pair)
        env[key] = value
    return env


def submit_body(argv: list[str], *, gpus: int | None, nodes: int | None, gpus_per_node: int | None,
                **fields: Any) -> dict[str, Any]:
    """The ``POST /jobs`` body: the gang shape worked out from the options, and the options that were given."""
    if not argv:
        raise InputError("COMMAND", "give the command to run after --, e.g. gpucloud submit -- python train.py")
    body: dict[str, Any] = {"argv": argv}
    if gpus_per_node is not None:
        if nodes is None:
            raise InputError("--gpus-per-node", "needs --nodes", gpus_per_node)
        total = nodes * gpus_per_node
        if gpus is not None and gpus != total:
            raise InputError("--gpus", f"disagrees with --nodes × --gpus-per-node = {total}", gpus)
        gpus = total
    if gpus is not None:
        body["num_gpus"] = gpus
    if nodes is not None:
        body["nodes"] = nodes
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


@handle_errors
def submit(
    command: Annotated[list[str] | None, typer.Argument(help="The program and its arguments (after --).",
                                                        show_default=False)] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", help="GPUs in total (default 1).")] = None,
    nodes: Annotated[int | None, typer.Option("--nodes", help="Run as a gang over this many nodes.")] = None,
    gpus_per_node: Annotated[int | None, typer.Option("--gpus-per-node", help="GPUs on each node (with --nodes).")
                             ] = None,
    gpu_type: Annotated[str | None, typer.Option("--gpu-type", help="e.g. H100-80GB (default: any).")] = None,
    walltime: Annotated[str | None, typer.Option("--walltime", help="e.g. 3600, 30m, 1h30m (default 1h).")] = None,
    priority: Annotated[str | None, typer.Option("--priority", help="low, normal, high or urgent.")] = None,
    preemptible: Annotated[bool, typer.Option("--preemptible/--no-preemptible",
                                              help="Whether the scheduler may preempt it.")] = True,
    grace: Annotated[str | None, typer.Option("--grace", help="Time between SIGTERM and SIGKILL (default 10s).")
                     ] = None,
    org: Annotated[str | None, typer.Option("--org", help="Org to run in (operators; default: yours).")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Project to charge (default: default).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A name to recognise the job by.")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE, repeatable.")] = None,
    cwd: Annotated[str | None, typer.Option("--cwd", help="Working directory (default: the current one).")] = None,
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", help="Resubmitting with the same key returns the first job (default: random).")] = None,
    service_class: Annotated[str | None, typer.Option(
        "--service-class", help="How it is priced: standard, interactive or preemptible.")] = None,
    reservation: Annotated[str | None, typer.Option(
        "--reservation", help="Run inside this reservation of your org (its name or #id).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Submit a job and print its id.

    Example: gpucloud submit --gpus 2 --walltime 1h -- python train.py
    """
    body = submit_body(
        list(command or []), gpus=gpus, nodes=nodes, gpus_per_node=gpus_per_node, gpu_type=gpu_type,
        walltime=walltime, priority=priority, grace=grace, org=org, project=project, name=name,
        env=parse_env(env or []) or None, cwd=cwd if cwd is not None else os.getcwd(),
        idempotency_key=idempotency_key or f"cli-{secrets.token_urlsafe(16)}", service_class=service_class,
        reservation=reservation,
    )
    if not preemptible:
        body["preemptible"] = False
    with connect() as client:
        job = client.post("/jobs", body, retries=1)
    if as_json:
        print_json(job)
        return
    typer.echo(job["id"])
    if not job.get("created", True):
        typer.echo(f"job {job['id']} was already submitted with this idempotency key", err=True)


def _job_rows(items: list[dict[str, Any]]) -> list[list[object]]:
    return [[j["id"], j["name"], styled_state(j["state"]), j["org"], j["user"], fmt_shape(j),
             fmt_duration(j["walltime_s"]), fmt_when(j["submitted_at"]), fmt_command(j["argv"], 30), j["reason"]]
            for j in items]


JOB_COLUMNS = ("ID", "NAME", "STATE", "ORG", "USER", "GPUS", "WALLTIME", "SUBMITTED", "COMMAND", "REASON")


@handle_errors
def list_jobs(
    state: Annotated[str | None, typer.Option("--state", help=f"One of: {', '.join(STATES)}.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Only this org's jobs.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's jobs.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_PAGE, help="Show at most this many.")] = 50,
    all_pages: Annotated[bool, typer.Option("--all", help="Fetch every page, not just the newest --limit.")
                         ] = False,
    as_json: JsonOption = False,
) -> None:
    """List the jobs you may see, newest first."""
    items: list[dict[str, Any]] = []
    cursor: int | None = None
    with connect() as client:
        while True:
            page = client.get("/jobs", state=state, org=org, user=user, cursor=cursor,
                              limit=MAX_PAGE if all_pages else limit)
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if not all_pages or cursor is None:
                break
    if as_json:
        print_json({"items": items, "next_cursor": cursor})
        return
    print_table(JOB_COLUMNS, _job_rows(items), empty="no jobs")
    if cursor is not None:
        typer.echo(f"(showing the newest {len(items)}; --all or a bigger --limit for more)", err=True)


@handle_errors
def show_job(job_id: Annotated[int, typer.Argument(help="The job id.")], as_json: JsonOption = False) -> None:
    """Show one job: its request, where it runs, and every state change with time and reason."""
    with connect() as client:
        job = client.get(f"/jobs/{job_id}")
    if as_json:
        print_json(job)
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
    ] + ([("cancel", "requested")] if job["cancel_requested"] else []), title=f"job {job['id']}")
    console().print()
    print_table(("TIME", "FROM", "TO", "REASON"),
                [[fmt_time(e["at"]), e["from_state"] or "", styled_state(e["to_state"]), e["reason"]]
                 for e in job["events"]], title="events", empty="no events")


@handle_errors
def cancel(job_id: Annotated[int, typer.Argument(help="The job id.")], as_json: JsonOption = False) -> None:
    """Cancel a job: a pending one at once, a running one is stopped by the control loop."""
    with connect() as client:
        job = client.post(f"/jobs/{job_id}/cancel")
    if as_json:
        print_json(job)
    elif job["state"] == "cancelled":
        typer.echo(f"job {job['id']} cancelled")
    else:
        typer.echo(f"job {job['id']} is {job['state']}: cancel requested, the control loop stops it")


@handle_errors
def logs(
    job_id: Annotated[int, typer.Argument(help="The job id.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")] = False,
    stderr: Annotated[bool, typer.Option("--stderr", help="Read stderr instead of stdout.")] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between polls with -f.")] = 1.0,
    as_json: JsonOption = False,
) -> None:
    """Print a job's stdout (or --stderr); with -f follow it until the job ends."""
    stream = "stderr" if stderr else "stdout"
    offset = 0
    collected: list[str] = []
    last: dict[str, Any] = {}
    with connect() as client:
        try:
            while True:
                last = client.get(f"/jobs/{seg(job_id)}/logs", stream=stream, offset=offset)
                offset = last["next_offset"]
                if last["text"]:
                    if as_json:
                        collected.append(last["text"])
                    else:
                        typer.echo(last["text"], nl=False)
                if last["done"] or (not follow and offset >= last["size"]):
                    break
                if offset >= last["size"]:
                    time.sleep(poll)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
    if as_json:
        print_json({**last, "text": "".join(collected), "offset": 0})


@handle_errors
def show_queue(
    org: Annotated[str | None, typer.Option("--org", help="Only this org's entries (operators).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The pending jobs you may see, in queue order, with why each one waits."""
    with connect() as client:
        queue = client.get("/queue", org=org)
    if as_json:
        print_json(queue)
        return
    now = time.time()
    rows = [[e["position"], e["job"]["id"], e["job"]["name"], e["job"]["org"], e["job"]["user"], e["job"]["num_gpus"],
             _shape_only(e["job"]), e["job"]["priority"], fmt_duration(max(0.0, now - e["job"]["queued_at"])),
             e["job"]["reason"]] for e in queue["items"]]
    print_table(("POS", "JOB", "NAME", "ORG", "USER", "GPUS", "SHAPE", "PRIORITY", "WAITING", "REASON"), rows,
                empty="no pending jobs you may see")
    typer.echo(f"{len(rows)} shown, {queue['total_pending']} pending in the whole queue", err=True)


def _shape_only(job: dict[str, Any]) -> str:
    """``2×8`` for an explicit gang, ``auto`` when the scheduler picks the nodes; with the GPU type if set."""
    shape = fmt_shape(job) if job.get("nodes") else " ".join(filter(None, ["auto", job.get("gpu_type")]))
    return shape


def register(app: typer.Typer) -> None:
    """Add the job commands to ``app``."""
    app.command("submit", context_settings={"allow_interspersed_args": False})(submit)
    app.command("jobs")(list_jobs)
    app.command("job")(show_job)
    app.command("cancel")(cancel)
    app.command("logs")(logs)
    app.command("queue")(show_queue)
