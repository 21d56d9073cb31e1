"""``gpucloud sacct``: jobs that ran or are running, as Slurm's ``sacct`` shows them (``--format`` with Slurm's
field names and ``%width``, ``-j``, ``-u``, ``-A``, ``-s``, ``-S``, ``-E``, ``-P``). gpucloud has no job steps, so
each job is one line (as ``sacct -X``)."""

from __future__ import annotations

import sys
import time

from gpucloud.cli import slurm_format as sf
from gpucloud.cli.command import JSON, Arg, Group, Namespace
from gpucloud.cli.output import print_json
from gpucloud.cli.slurm_command import names, register
from gpucloud.cli.slurm_time import format_slurm_time, parse_when
from gpucloud.errors import InputError
from gpucloud.model.array_spec import parse_job_ref
from gpucloud.sdk.calls import MAX_PAGE
from gpucloud.sdk.client import Client
from gpucloud.sdk.errors import ApiError

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()

DEFAULT = "JobID,JobName,Partition,Account,AllocGPUS,State,ExitCode"
BRIEF = "JobID,State,ExitCode"
LONG = ("JobID,JobIDRaw,JobName,Partition,Account,User,AllocGPUS,AllocTRES,NNodes,NodeList,State,ExitCode,"
        "Submit,Start,End,Elapsed,Timelimit,Reason")


#: Field name (lower case) → its header, default width and value.
FIELDS: dict[str, tuple[str, int, Any]] = {
    "jobid": ("JobID", 12, sf.job_label),
    "jobidraw": ("JobIDRaw", 12, lambda j: j["id"]),
    "jobname": ("JobName", 10, lambda j: j.get("name") or ""),
    "partition": ("Partition", 10, lambda j: j.get("assigned_gpu_type") or j.get("gpu_type") or "any"),
    "account": ("Account", 10, lambda j: j.get("project", "")),
    "user": ("User", 9, lambda j: j.get("user", "")),
    "group": ("Group", 9, lambda j: j.get("org", "")),
    "state": ("State", 10, lambda j: sf.STATES[j["state"]][1]),
    "exitcode": ("ExitCode", 8, sf.exit_code),
    "elapsed": ("Elapsed", 10, lambda j: format_slurm_time(sf.elapsed(j) or 0.0)),
    "elapsedraw": ("ElapsedRaw", 10, lambda j: int(sf.elapsed(j) or 0)),
    "timelimit": ("Timelimit", 10, sf.limit),
    "submit": ("Submit", 19, sf.when("submitted_at", "Unknown")),
    "eligible": ("Eligible", 19, sf.when("submitted_at", "Unknown")),
    "start": ("Start", 19, sf.when("started_at", "Unknown")),
    "end": ("End", 19, sf.when("ended_at", "Unknown")),
    "nnodes": ("NNodes", 8, sf.node_count),
    "nodelist": ("NodeList", 15, lambda j: sf.nodelist(j) or "None assigned"),
    "alloctres": ("AllocTRES", 10, lambda j: sf.gres(j) if j.get("placement") else ""),
    "reqtres": ("ReqTRES", 10, sf.gres),
    "allocgpus": ("AllocGPUS", 9, lambda j: j.get("num_gpus", 0) if j.get("placement") else 0),
    "reqgpus": ("ReqGPUS", 7, lambda j: j.get("num_gpus", 0)),
    "reason": ("Reason", 10, lambda j: sf.reason_code(j.get("reason") or "") if j["state"] == "pending" else "None"),
    "workdir": ("WorkDir", 20, lambda j: j.get("cwd", "")),
    "qos": ("QOS", 8, lambda j: j.get("priority", "")),
    "priority": ("Priority", 10, lambda j: j.get("priority_value", 0)),
    "restarts": ("Restarts", 8, lambda j: max(0, int(j.get("run_count") or 0) - 1)),
    "allocnodes": ("AllocNodes", 10, lambda j: len(j.get("placement") or ())),
    "cluster": ("Cluster", 10, lambda j: "gpucloud"),
}


def columns(spec: str) -> list[sf.Column]:
    """``JobID,JobName%30``: Slurm's field names (any case), each with an optional width."""
    out = []
    for item in names(spec):
        name, _, width = item.partition("%")
        field = FIELDS.get(name.lower())
        if field is None or (width and not width.isdigit()):
            raise InputError("--format", f"unknown field {item!r} (known: {', '.join(f[0] for f in FIELDS.values())})",
                             spec)
        header, default, get = field
        out.append(sf.Column(get, header, int(width) if width else default, True))
    return out


@register(
    commands, "sacct",
    Arg("-j", "--jobs", help="Only these jobs: ids, arrays (their id) or tasks (12_3), comma-separated."),
    Arg("-u", "--user", help="Only these users' jobs (default: yours)."),
    Arg("-a", "--allusers", action="store_true", help="Every job you may see (org-admins: the org's)."),
    Arg("-A", "--accounts", help="Only these projects' jobs (comma-separated)."),
    Arg("-s", "--state", help="Only these states: PD, R, CD, F, CA, TO, ... (comma-separated)."),
    Arg("-S", "--starttime", help="Jobs submitted since, or still running (default: midnight today)."),
    Arg("-E", "--endtime", help="Jobs submitted before (default: now)."),
    Arg("--name", help="Only jobs of these names (comma-separated)."),
    Arg("-o", "--format", help=f"Fields, comma-separated, each with an optional %%width (default {DEFAULT})."),
    Arg("-b", "--brief", action="store_true", help=f"Only {BRIEF}."),
    Arg("-l", "--long", action="store_true", help="Many fields."),
    Arg("-X", "--allocations", action="store_true", help="One line per job (always: gpucloud has no job steps)."),
    Arg("-P", "--parsable2", action="store_true", help="Fields separated by |, nothing cut."),
    Arg("-p", "--parsable", action="store_true", help="Fields separated by |, a | at the end of each line."),
    Arg("-n", "--noheader", action="store_true", help="Print no header lines."),
    JSON,
)
def sacct(a: Namespace) -> None:
    """Show jobs that ran or run (those you may see), as Slurm's sacct does: by default yours, submitted since
    midnight or still running."""
    now = time.time()
    with Client() as client:
        users = names(a.user)
        if not users and not a.allusers and not a.jobs:
            users = [str(client.get("/me")["name"])]
        jobs = fetch(client, a, users, now)
    if a.as_json:
        print_json({"jobs": jobs})
        return
    cols = columns(BRIEF if a.brief else LONG if a.long else a.format or DEFAULT)
    if a.parsable2 or a.parsable:
        end = "|" if a.parsable else ""
        lines = [] if a.noheader else ["|".join(c.header for c in cols) + end]
        lines += ["|".join(str(c.get(j)) for c in cols) + end for j in jobs]
    else:
        lines = [] if a.noheader else [" ".join(sf.fit(c.header, c.width, True) for c in cols),
                                       " ".join("-" * (c.width or 0) for c in cols)]
        lines += [" ".join(sf.fit(str(c.get(j)), c.width, True, "+") for c in cols) for j in jobs]
    for line in lines:
        sys.stdout.write(line + "\n")


def fetch(client: Client, a: Namespace, users: list[str], now: float) -> list[dict[str, Any]]:
    """The jobs to show, oldest first."""
    query: dict[str, Any] = {"user": users[0] if len(users) == 1 else None}
    projects = names(a.accounts)
    if len(projects) == 1:
        query["project"] = projects[0]
    states = sf.states_from(a.state, "--state") if a.state else None
    found: dict[int, dict[str, Any]] = {}
    if a.jobs:
        for ref in names(a.jobs):
            jid, tasks = parse_job_ref(ref, "--jobs")
            for page in client.job_pages(array=jid, page_size=MAX_PAGE):
                found.update((j["id"], j) for j in page["items"] if tasks is None or j["array_task_id"] in tasks)
            if tasks is None and jid not in found:
                try:
                    job = client.get(f"/jobs/{jid}")
                except ApiError:  # not found (or not yours): sacct shows nothing for it
                    continue
                found[job["id"]] = job
    else:
        start = parse_when(a.starttime, now, "--starttime") if a.starttime else parse_when("today", now, "-S")
        end = parse_when(a.endtime, now, "--endtime") if a.endtime else None
        window = {**query, "submitted_after": start, "submitted_before": end}
        for page in client.job_pages(page_size=MAX_PAGE, **window):
            found.update((j["id"], j) for j in page["items"])
        for page in client.job_pages(state=list(sf.ACTIVE), page_size=MAX_PAGE, **query):
            found.update((j["id"], j) for j in page["items"])
    jobs = [found[k] for k in sorted(found)]
    return [j for j in jobs if (not users or j["user"] in users) and (not projects or j["project"] in projects)
            and (states is None or j["state"] in states) and (not a.name or j["name"] in names(a.name))]
