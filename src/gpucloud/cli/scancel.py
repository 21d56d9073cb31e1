"""``gpucloud scancel``: cancel jobs as Slurm's ``scancel`` does — by id, array (its id) or array task (``12_3``,
``12_[1-5]``), by name, user, project or state — in one request (``POST /jobs/cancel``)."""

from __future__ import annotations

from gpucloud.cli import slurm_format as sf
from gpucloud.cli.command import JSON, Arg, Group, Namespace
from gpucloud.cli.output import echo, print_json
from gpucloud.cli.slurm_command import register
from gpucloud.errors import InputError
from gpucloud.sdk.client import Client

commands = Group()


@register(
    commands, "scancel",
    Arg("jobs", nargs="*", metavar="JOB", help="Job ids, arrays (their id: every task) or tasks (12_3, 12_[1-5])."),
    Arg("-n", "--name", "--jobname", dest="name", help="Only jobs of this name."),
    Arg("-u", "--user", help="Only this user's jobs."),
    Arg("--me", action="store_true", help="Only your own jobs."),
    Arg("-A", "--account", help="Only this project's jobs."),
    Arg("-t", "--state", help="Only jobs in these states: PENDING, RUNNING, ... (comma-separated)."),
    Arg("-s", "--signal", help="Not supported: gpucloud cancels jobs (SIGTERM, then SIGKILL after their grace)."),
    Arg("-v", "--verbose", action="store_true", help="Say what was done to each job."),
    Arg("-Q", "--quiet", action="store_true", help="Do not report jobs that were not found or had ended."),
    JSON,
)
def scancel(a: Namespace) -> None:
    """Cancel jobs, as Slurm's scancel does.

    Pending jobs are cancelled at once; running ones are stopped by the control loop (SIGTERM, SIGKILL after their
    grace period). Filters narrow each other and the jobs named; without a job id only jobs that have not ended are
    looked at. A job that is not found or had ended is reported on stderr and the exit code is 1 (with -Q
    neither)."""
    if a.signal:
        raise InputError("--signal", "not supported: gpucloud sends SIGTERM and SIGKILL itself when it stops a job; "
                                     "a batch job can ask for a warning signal with sbatch --signal", a.signal)
    body: dict[str, object] = {"jobs": a.jobs, "name": a.name, "user": a.user, "project": a.account,
                               "states": sf.states_from(a.state, "--state") if a.state else []}
    with Client() as client:
        if a.me:
            body["user"] = client.get("/me")["name"]
        out = client.post("/jobs/cancel", {k: v for k, v in body.items() if v})
    if a.as_json:
        print_json(out)
        return
    if a.verbose:
        for jid in out["cancelled"]:
            echo(f"scancel: job {jid} cancelled", err=True)
        for jid in out["requested"]:
            echo(f"scancel: job {jid} is stopping", err=True)
    problems = [f"scancel: error: Kill job error on job id {ref}: Invalid job id specified"
                for ref in out["not_found"]]
    problems += [f"scancel: error: Kill job error on job id {jid}: Job/step already completing or completed"
                 for jid in out["ended"]]
    if problems and not a.quiet:
        for line in problems:
            echo(line, err=True)
        raise SystemExit(1)
