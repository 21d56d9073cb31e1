"""The whole system the way a user drives it: ``gpucloud server`` as a real subprocess and the ``gpucloud`` CLI
as real subprocesses. An operator sets up an org and a member; the member submits shell jobs through the CLI;
the jobs see their GPU ids and environment, their logs are read back through the CLI, walltime kills a
sleeping job and cancel stops another. The README's example training job is preempted, checkpoints and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from server_proc import ServerProcess, gpucloud_command, wait_for

TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


class Cli:
    def __init__(self, config: Path, url: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GPUCLOUD_")}
        self.env["GPUCLOUD_CONFIG"] = str(config)
        self.url = url

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([*gpucloud_command(), *args], env=self.env, capture_output=True, text=True,
                             timeout=60)
        if ok:
            assert out.returncode == 0, f"gpucloud {' '.join(args)}: {out.stderr}"
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


def test_member_runs_jobs_through_the_cli(server_factory: Any, tmp_path: Path) -> None:
    server: ServerProcess = server_factory(cluster="1x4:H100")
    assert server.token is not None
    op = Cli(tmp_path / "operator.json", server.url)
    op.run("login", "--url", server.url, "--token", server.token)
    op.run("org", "create", "lab")
    member_token = op.run("user", "create", "ana", "--org", "lab", "--role", "member").stdout.strip().splitlines()[-1]
    assert member_token.startswith("gpc_")

    ana = Cli(tmp_path / "ana.json", server.url)
    ana.run("login", "--url", server.url, "--token", member_token)
    echo = ana.run("submit", "--gpus", "2", "--walltime", "1m", "--", "sh", "-c",
                   'echo "job=$GPUCLOUD_JOB_ID gpus=$CUDA_VISIBLE_DEVICES world=$GPUCLOUD_WORLD_SIZE"; '
                   'echo oops >&2').stdout.strip()
    sleeper = ana.run("submit", "--gpus", "1", "--walltime", "1s", "--grace", "1s", "--", "sleep", "60").stdout.strip()
    victim = ana.run("submit", "--gpus", "1", "--grace", "1s", "--", "sleep", "60").stdout.strip()

    def state(jid: str) -> str:
        return str(ana.json("job", jid)["state"])

    assert wait_for("the echo job", lambda: state(echo) in TERMINAL) and state(echo) == "succeeded"
    assert ana.run("logs", echo).stdout.strip() == f"job={echo} gpus=0,1 world=1"
    assert ana.run("logs", echo, "--stderr").stdout.strip() == "oops"

    wait_for("the victim to run", lambda: state(victim) == "running")
    ana.run("cancel", victim)
    wait_for("the cancel", lambda: state(victim) in TERMINAL)
    assert state(victim) == "cancelled"

    wait_for("the walltime kill", lambda: state(sleeper) in TERMINAL)
    timed_out = ana.json("job", sleeper)
    assert timed_out["state"] == "timed_out" and "walltime" in timed_out["reason"]

    events = [e["to_state"] for e in ana.json("job", echo)["events"]]
    assert events == ["pending", "admitted", "running", "succeeded"]
    mine = {str(j["id"]) for j in ana.json("jobs")["items"]}
    assert mine == {echo, sleeper, victim}

    # A member of another org sees none of it.
    op.run("org", "create", "rival")
    rival_token = op.run("user", "create", "eve", "--org", "rival", "--role", "member").stdout.strip().splitlines()[-1]
    eve = Cli(tmp_path / "eve.json", server.url)
    eve.run("login", "--url", server.url, "--token", rival_token)
    assert eve.json("jobs")["items"] == []
    denied = eve.run("logs", echo, ok=False)
    assert denied.returncode != 0 and "not found" in denied.stderr.lower()


TRAIN = Path(__file__).resolve().parents[2] / "examples" / "jobs" / "train.py"


def test_the_example_training_job_is_preempted_and_resumes(server_factory: Any, tmp_path: Path) -> None:
    """The README's example: a low-priority training job is preempted by an urgent one, saves its checkpoint on
    SIGTERM, goes back to the queue, and resumes from the checkpoint when it runs again."""
    server: ServerProcess = server_factory(cluster="1x4:H100")
    assert server.token is not None
    op = Cli(tmp_path / "operator.json", server.url)
    op.run("login", "--url", server.url, "--token", server.token)
    op.run("org", "create", "lab")
    work = tmp_path / "work"
    work.mkdir()
    train = op.run("submit", "--org", "lab", "--gpus", "4", "--priority", "low", "--grace", "20s", "--cwd", str(work),
                   "--", sys.executable, str(TRAIN), "--steps", "400", "--step-seconds", "0.05").stdout.strip()

    def log() -> str:
        return op.run("logs", train).stdout

    wait_for("training to get going", lambda: "step 10/" in log())
    urgent = op.run("submit", "--org", "lab", "--gpus", "4", "--priority", "urgent", "--", "true").stdout.strip()
    wait_for("the urgent job", lambda: op.json("job", urgent)["state"] == "succeeded")
    job = wait_for("training to end", lambda: (j := op.json("job", train))["state"] in TERMINAL and j, timeout=60)
    assert job["state"] == "succeeded" and job["preemptions"] == 1 and job["run_count"] == 2
    states = [e["to_state"] for e in job["events"]]
    assert states[:6] == ["pending", "admitted", "running", "preempting", "pending", "admitted"]
    text = log()
    saved = int(text.split("SIGTERM: saved step ")[1].split()[0])
    assert 10 <= saved < 400 and f"resumed from step {saved} of 400" in text
    assert "done: 400 steps in 2 run(s)" in text
    checkpoint = json.loads((work / "checkpoints" / f"train-{train}.json").read_text())
    assert checkpoint["done"] is True and checkpoint["runs"] == 2
