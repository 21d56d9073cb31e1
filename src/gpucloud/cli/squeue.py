"""``gpucloud squeue``: the jobs waiting and running, as Slurm's ``squeue`` shows them (its columns, ``--format``
codes, ``-u``, ``-A``, ``-t``, ``-j``, ``-n``, ``-p``; the pending tasks of an array on one line, ``12_[4-9%2]``,
unless ``-r``). Reasons are Slurm's (``Resources``, ``Priority``, ``Dependency``, ``JobArrayTaskLimit``...);
``gpucloud queue`` says them in full."""

from __future__ import annotations

import sys
import time

from gpucloud.cli import slurm_format as sf
from gpucloud.cli.command import JSON, Arg, Group, Namespace
from gpucloud.cli.output import print_json
from gpucloud.cli.slurm_command import NOHEADER, names, register
from gpucloud.cli.slurm_time import format_slurm_time
from gpucloud.model.array_spec import compress, parse_job_ref
from gpucloud.sdk.calls import MAX_PAGE
from gpucloud.sdk.client import Client

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()

DEFAULT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
LONG = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"


def time_used(job: dict[str, Any]) -> str:
    return format_slurm_time(sf.elapsed(job) or 0.0)


def time_left(job: dict[str, Any]) -> str:
    started = job.get("started_at")
    if job.get("state") not in ("running", "preempting") or started is None:
        return sf.limit(job)
    return format_slurm_time(max(0.0, float(job["walltime_s"]) - (time.time() - float(started))))


def reason_or_nodes(job: dict[str, Any]) -> str:
    if job.get("state") == "pending":
        return f"({sf.reason_code(job.get('reason') or '')})"
    return sf.nodelist(job)


CODES: dict[str, tuple[str, Any]] = {
    "i": ("JOBID", lambda j: j.get("_label") or sf.job_label(j)),
    "A": ("JOBID", lambda j: j["id"]),
    "F": ("ARRAY_JOB_ID", lambda j: j.get("array_job_id") or j["id"]),
    "K": ("ARRAY_TASK_ID", lambda j: j.get("_tasks") or ("N/A" if j.get("array_task_id") is None
                                                           else j["array_task_id"])),
    "j": ("NAME", lambda j: j.get("name") or ""),
    "u": ("USER", lambda j: j.get("user", "")),
    "a": ("ACCOUNT", lambda j: j.get("project", "")),
    "g": ("GROUP", lambda j: j.get("org", "")),
    "P": ("PARTITION", lambda j: j.get("assigned_gpu_type") or j.get("gpu_type") or "any"),
    "q": ("QOS", lambda j: j.get("priority", "")),
    "t": ("ST", lambda j: sf.STATES[j["state"]][0]),
    "T": ("STATE", lambda j: sf.STATES[j["state"]][1]),
    "M": ("TIME", time_used),
    "l": ("TIME_LIMIT", sf.limit),
    "L": ("TIME_LEFT", time_left),
    "D": ("NODES", sf.node_count),
    "b": ("TRES_PER_NODE", sf.gres),
    "R": ("NODELIST(REASON)", reason_or_nodes),
    "r": ("REASON", lambda j: sf.reason_code(j.get("reason") or "") if j["state"] == "pending" else "None"),
    "N": ("NODELIST", sf.nodelist),
    "E": ("DEPENDENCY", lambda j: j.get("dependency") or "(null)"),
    "V": ("SUBMIT_TIME", sf.when("submitted_at", "N/A")),
    "S": ("START_TIME", sf.when("started_at", "N/A")),
    "e": ("END_TIME", sf.when("ended_at", "N/A")),
    "Q": ("PRIORITY", lambda j: j.get("priority_value", 0)),
    "Z": ("WORK_DIR", lambda j: j.get("cwd", "")),
    "o": ("COMMAND", lambda j: " ".join(j.get("argv") or ())),
    "C": ("CPUS", lambda j: "N/A"),
    "m": ("MIN_MEMORY", lambda j: "N/A"),
}


@register(
    commands, "squeue",
    Arg("-u", "--user", help="Only these users' jobs (comma-separated)."),
    Arg("--me", action="store_true", help="Only your own jobs."),
    Arg("-A", "--account", help="Only these projects' jobs (comma-separated)."),
    Arg("-t", "--states", help="Only these states: PD, R, CF, PR, CD, F, CA, TO (or their long names, or all)."),
    Arg("-j", "--jobs", help="Only these jobs: ids, arrays (their id) or array tasks (12_3), comma-separated."),
    Arg("-n", "--name", help="Only jobs of these names (comma-separated)."),
    Arg("-p", "--partition", help="Only jobs of these GPU types (comma-separated)."),
    Arg("-o", "--format", help=f"Output format, Slurm's %% codes (default {DEFAULT.replace('%', '%%')!r})."),
    Arg("-l", "--long", action="store_true", help="The long format (STATE and TIME_LIMIT columns)."),
    Arg("-r", "--array", action="store_true",
        help="One line per array task (default: the pending tasks of an array on one line)."),
    NOHEADER, JSON,
)
def squeue(a: Namespace) -> None:
    """Show the jobs waiting and running (those you may see), as Slurm's squeue does.

    Running jobs first, then the pending ones in queue order. A pending job's NODELIST(REASON) is Slurm's reason
    (Resources, Priority, Dependency, DependencyNeverSatisfied, JobArrayTaskLimit, QOSGrpGRES for a quota,
    AssocGrpBillingMinutes for a budget); gpucloud queue shows the whole reason."""
    states = sf.states_from(a.states, "--states") if a.states else ["pending", "admitted", "running", "preempting"]
    with Client() as client:
        users = names(a.user)
        if a.me:
            users = [str(client.get("/me")["name"])]
        projects = names(a.account)
        query: dict[str, Any] = {"user": users[0] if len(users) == 1 else None,
                                 "project": projects[0] if len(projects) == 1 else None}
        jobs = fetch(client, states, query)
    jobs = [j for j in jobs if _selected(j, a, users, projects)]
    if a.as_json:
        print_json({"jobs": jobs})
        return
    if not a.array:
        jobs = collapse(jobs)
    prefix, columns = sf.percent_format(a.format or (LONG if a.long else DEFAULT), CODES, "--format")
    for line in sf.render(prefix, columns, jobs, not a.noheader):
        sys.stdout.write(line + "\n")


def fetch(client: Client, states: list[str], query: dict[str, Any]) -> list[dict[str, Any]]:
    """The jobs in ``states``: active ones in id order, then pending ones in queue order, then ended ones (the
    newest page)."""
    active = [s for s in ("admitted", "running", "preempting") if s in states]
    ended = [s for s in states if s not in sf.ACTIVE]
    out: list[dict[str, Any]] = []
    if active:
        for page in client.job_pages(state=active, page_size=MAX_PAGE, **query):
            out += page["items"]
        out.sort(key=lambda j: j["id"])
    if "pending" in states:
        out += [e["job"] for e in client.get("/queue", **query)["items"]]
    if ended:
        out += next(client.job_pages(state=ended, page_size=MAX_PAGE, **query))["items"]
    return out


def _selected(job: dict[str, Any], a: Namespace, users: list[str], projects: list[str]) -> bool:
    if (users and job["user"] not in users) or (projects and job["project"] not in projects):
        return False
    if a.name and job["name"] not in names(a.name):
        return False
    if a.partition:
        kind = (job.get("assigned_gpu_type") or job.get("gpu_type") or "").lower()
        if not any(kind == p.lower() or kind.split("-")[0] == p.lower() for p in names(a.partition)):
            return False
    if a.jobs:
        return any(_matches(job, ref) for ref in names(a.jobs))
    return True


def _matches(job: dict[str, Any], ref: str) -> bool:
    jid, tasks = parse_job_ref(ref, "--jobs")
    if job.get("array_job_id") == jid:
        return tasks is None or job.get("array_task_id") in tasks
    return tasks is None and job["id"] == jid


def collapse(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pending tasks of an array that wait for the same reason on one line: ``12_[4-9%2]``."""
    out: list[dict[str, Any]] = []
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for job in jobs:
        array = job.get("array_job_id")
        if job["state"] != "pending" or array is None:
            out.append(job)
            continue
        key = (array, sf.reason_code(job.get("reason") or ""))
        group = groups.get(key)
        if group is None:
            group = groups[key] = {**job, "_indices": []}
            out.append(group)
        group["_indices"].append(job["array_task_id"])
    for group in groups.values():
        indices = sorted(group.pop("_indices"))
        if len(indices) > 1:
            throttle = f"%{group['array_throttle']}" if group.get("array_throttle") else ""
            group["_tasks"] = f"{compress(indices)}{throttle}"
            group["_label"] = f"{group['array_job_id']}_[{group['_tasks']}]"
    return out
