"""Slurm batch scripts through ``gpucloud sbatch`` against a real server (a subprocess, local executor): each
script of ``slurm_scripts/`` with its expected translation (``NAME.expect.json``) — the job stored as expected, the
notes on stderr, the job run to its expected end with the Slurm environment its script prints, the output files on
disk — and the scripts with the mistakes users make refused with the line at fault and nothing stored. Then
squeue, scancel, sacct and sinfo on an array and a dependency, as a Slurm user reads them.

``NAME.expect.json``: ``job`` (fields of the stored job; ``env_has``/``env_lacks`` for its environment),
``notes``/``notes_lack`` (on stderr), ``state``, ``exit_code``, ``stdout``/``stdout_rank1`` (lines of the
ranks' logs), ``files``/``file_lacks`` (lines of files written in the working directory), ``tasks`` (an array's
indices), ``args``/``args_after`` (sbatch options before the script, script arguments after it), ``command``
(sbatch's words when there is no script file), ``setup`` (shell commands run first), ``error`` (the one line a
refused script gets). Placeholders: ``{id}``, ``{job:NAME}``, ``{workdir}``, ``{gpus}`` and ``{node0}``/``{node1}``
(rank 0's GPUs and the ranks' nodes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from server_proc import ServerProcess, gpucloud_command, wait_for

import gpucloud

SCRIPTS = Path(__file__).with_name("slurm_scripts")
EXPECTS = sorted(SCRIPTS.glob("*.expect.json"))
TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


class User:
    """A gpucloud user driving the CLI as a subprocess from ``workdir``, with a small environment of its own."""

    def __init__(self, config: Path, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "LANG": "C.UTF-8",
                    "GPUCLOUD_CONFIG": str(config), "SUBMIT_SHELL_ONLY": "from-the-submit-shell"}

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([*gpucloud_command(), *args], env=self.env, cwd=self.workdir, capture_output=True,
                             text=True, timeout=60)
        if ok:
            assert out.returncode == 0, f"gpucloud {' '.join(args)}: {out.stderr}"
        return out


@pytest.fixture
def world(server_factory: Any, tmp_path: Path) -> tuple[ServerProcess, User, gpucloud.Client]:
    server: ServerProcess = server_factory(cluster="2x4:H100")
    assert server.token is not None
    work = tmp_path / "work"
    shutil.copytree(SCRIPTS, work)
    op = User(tmp_path / "op.json", work)
    op.run("login", "--url", server.url, "--token", server.token)
    op.run("org", "create", "lab")
    op.run("project", "create", "vision", "--org", "lab")
    token = op.run("user", "create", "ana", "--org", "lab", "--role", "member").stdout.strip().splitlines()[-1]
    ana = User(tmp_path / "ana.json", work)
    ana.run("login", "--url", server.url, "--token", token)
    return server, ana, gpucloud.Client(server.url, token)


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def filled(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, list):
        return [filled(v, values) for v in value]
    if isinstance(value, dict):
        return {fill(k, values): filled(v, values) for k, v in value.items()}
    return value


def run_fixture(expect_path: Path, ana: User, client: gpucloud.Client, ids: dict[str, str]) -> None:
    name = expect_path.name.removesuffix(".expect.json")
    values = {**ids, "workdir": str(ana.workdir)}
    expect = filled(json.loads(expect_path.read_text()), values)
    for command in expect.get("setup", []):
        subprocess.run(command, shell=True, cwd=ana.workdir, check=True)
    script = next((p.name for p in SCRIPTS.glob(f"{name}.*") if not p.name.endswith(".json")), None)
    words = expect.get("command") or [*expect.get("args", []), script, *expect.get("args_after", [])]
    before = len(client.jobs())
    out = ana.run("sbatch", "--parsable", *words, ok="error" not in expect)
    if "error" in expect:
        lines = out.stderr.splitlines()
        assert out.returncode == 2 and len(lines) == 1 and expect["error"] in lines[0], (name, out.stderr)
        assert len(client.jobs()) == before, f"{name}: a refused script stored a job"
        return
    jid = out.stdout.strip()
    assert jid.isdigit(), (name, out.stdout, out.stderr)
    ids[f"job:{name}"] = jid
    for note in expect.get("notes", []):
        assert note in out.stderr, (name, note, out.stderr)
    for absent in expect.get("notes_lack", []):
        assert absent not in out.stderr, (name, absent, out.stderr)
    job = client.job(int(jid))
    tasks = [job]
    if job.raw.get("array_job_id") is not None:
        tasks = sorted(client.jobs(array=int(jid)), key=lambda j: j.raw["array_task_id"])
        assert [t.raw["array_task_id"] for t in tasks] == expect["tasks"], name
    for task in tasks:
        wait_for(f"{name}: job {task.id}", lambda t=task: client.job(t.id).done, timeout=60)
    job = client.job(int(jid))
    assert job.state == expect["state"], (name, job.state, job.reason, _logs(client, job.id, 0))
    if "exit_code" in expect:
        assert job.exit_code == expect["exit_code"], name
    values.update(id=jid, gpus=",".join(map(str, job.placement[0].gpus)),
                  **{f"node{i}": p.node for i, p in enumerate(job.placement)})
    expect = filled(json.loads(expect_path.read_text()), {**ids, **values})
    for key, want in expect["job"].items():
        if key == "env_has":
            assert all(job.env.get(k) == v for k, v in want.items()), (name, job.env)
        elif key == "env_lacks":
            assert not set(want) & set(job.env), (name, job.env)
        else:
            assert job.raw[key] == want, (name, key, job.raw[key], want)
    for rank, key in ((0, "stdout"), (1, "stdout_rank1")):
        if key not in expect:
            continue
        logged = _logs(client, job.id, rank).splitlines()
        for line in expect.get(key, []):
            assert line in logged, (name, rank, line, logged)
    for path, lines in expect.get("files", {}).items():
        text = (ana.workdir / path).read_text().splitlines()
        assert all(line in text for line in lines), (name, path, text)
    for path, lines in expect.get("file_lacks", {}).items():
        assert not set(lines) & set((ana.workdir / path).read_text().splitlines()), (name, path)


def _logs(client: gpucloud.Client, jid: int, rank: int) -> str:
    return "".join(client.logs(jid, rank=rank))


def test_every_script_runs_as_its_expected_translation(world: tuple[ServerProcess, User, gpucloud.Client]) -> None:
    """At least 15 scripts that run and the mistakes; each as its ``.expect.json`` says."""
    _, ana, client = world
    assert sum("error" not in json.loads(p.read_text()) for p in EXPECTS) >= 15
    ids: dict[str, str] = {}
    with client:
        for expect_path in EXPECTS:
            run_fixture(expect_path, ana, client, ids)


def test_slurm_views_of_an_array_and_a_dependency(world: tuple[ServerProcess, User, gpucloud.Client]) -> None:
    _, ana, client = world
    (ana.workdir / "sleepy.sh").write_text("#!/bin/sh\n#SBATCH -J sleepy\n#SBATCH --array=0-5%2\n"
                                           "#SBATCH --gres=gpu:1\n#SBATCH -t 2\nsleep 30\n")
    array = ana.run("sbatch", "--parsable", "sleepy.sh").stdout.strip()
    after = ana.run("sbatch", "--parsable", f"--dependency=afterok:{array}", "--wrap", "true").stdout.strip()
    with client:
        wait_for("two tasks running", lambda: len(client.jobs(state="running")) == 2)
        lines = ana.run("squeue").stdout.splitlines()
        assert lines[0].split() == ["JOBID", "PARTITION", "NAME", "USER", "ST", "TIME", "NODES", "NODELIST(REASON)"]
        rows = [line.split() for line in lines[1:]]
        assert [r[0] for r in rows] == [f"{array}_0", f"{array}_1", f"{array}_[2-5%2]", after]
        assert rows[2][4:] == ["PD", "0:00", "1", "(JobArrayTaskLimit)"] and rows[3][-1] == "(Dependency)"
        assert rows[0][4] == "R" and rows[0][-1].startswith("b0-r0-n")
        custom = ana.run("squeue", "-h", "-r", "-t", "PD", "-o", "%i|%T|%E").stdout.splitlines()
        assert custom[-1] == f"{after}|PENDING|afterok:{array}" and len(custom) == 5
        ana.run("scancel", f"{array}_[1-5]")
        out = ana.run("scancel", f"{array}_9", "999999", ok=False)
        assert out.returncode == 1 and "Invalid job id specified" in out.stderr and f"{array}_9" in out.stderr
        wait_for("the dependency to be hopeless",
                 lambda: "DependencyNeverSatisfied" in ana.run("squeue", "-j", after).stdout)
        ana.run("scancel", "--name", "sleepy")
        wait_for("the array to end", lambda: all(j.done for j in client.jobs() if j.name == "sleepy"))
    acct = ana.run("sacct", "-j", array, "--format", "JobID,JobName%8,State,ExitCode").stdout.splitlines()
    assert acct[0].split() == ["JobID", "JobName", "State", "ExitCode"] and set(acct[1]) == {"-", " "}
    assert [row.split()[0] for row in acct[2:]] == [f"{array}_{i}" for i in range(6)]
    assert {row.split()[2] for row in acct[2:]} == {"CANCELLED"}
    parsable = ana.run("sacct", "-P", "-n", "-j", after, "--format", "JobIDRaw,State").stdout.strip()
    assert parsable == f"{after}|PENDING"
    waited = ana.run("sbatch", "--wait", "-t", "1", "--wrap", "exit 3", ok=False)
    assert waited.returncode == 3 and waited.stdout.startswith("Submitted batch job ")
    info = ana.run("sinfo").stdout.splitlines()
    assert info[0].split() == ["PARTITION", "AVAIL", "TIMELIMIT", "NODES", "STATE", "NODELIST"]
    assert info[1].split()[0] == "H100-80GB" and info[1].split()[-1] in ("b0-r0-n[0-1]", "b0-r0-n0,b0-r0-n1")
