"""``gpucloud squeue``, ``scancel``, ``sacct`` and ``sinfo`` against a real API server (the control loop's moves
made by hand), and the Slurm formats they share: states, reasons, node lists, exit codes, ``--format`` widths."""

from __future__ import annotations

import pytest
from cli_world import Cli, move

from gpucloud.cli import slurm_format as sf
from gpucloud.errors import InputError
from gpucloud.model.job import JobState

A, R, OK = JobState.ADMITTED, JobState.RUNNING, JobState.SUCCEEDED


def test_hostlists() -> None:
    assert sf.hostlist(["b0-r0-n0", "b0-r0-n1", "b0-r0-n3", "b1-r0-n0"]) == "b0-r0-n[0-1,3],b1-r0-n0"
    assert sf.hostlist(["gpu07"]) == "gpu07" and sf.hostlist(["login", "n2", "n1"]) == "login,n[1-2]"
    assert sf.hostlist([]) == ""


def test_states_reasons_and_exit_codes() -> None:
    assert sf.states_from("PD,r,COMPLETED,timed_out", "-t") == ["pending", "running", "succeeded", "timed_out"]
    assert len(sf.states_from("all", "-t")) == 8
    with pytest.raises(InputError, match="unknown state 'DONE'"):
        sf.states_from("DONE", "-t")
    assert [sf.reason_code(r) for r in ("dependency can never be met: job 1 failed", "dependency: waiting for x",
                                        "array throttle: at most 2", "quota", "no fitting nodes", "submitted",
                                        "behind the head job")] == [
        "DependencyNeverSatisfied", "Dependency", "JobArrayTaskLimit", "QOSGrpGRES", "Resources", "None", "Priority"]
    assert [sf.exit_code(j) for j in ({"exit_code": 0}, {"exit_code": 3}, {"exit_code": 137},
                                      {"exit_code": None, "state": "cancelled", "started_at": 5.0})] == [
        "0:0", "3:0", "0:9", "0:15"]


def test_percent_formats_pad_cut_and_keep_text() -> None:
    codes = {"i": ("JOBID", lambda r: r["id"]), "j": ("NAME", lambda r: r["name"])}
    prefix, cols = sf.percent_format(">%.5i|%-4j%j<", codes, "--format")
    lines = sf.render(prefix, cols, [{"id": 7, "name": "training"}], True)
    assert lines == [">JOBID|NAMENAME<", ">    7|traitraining<"]
    with pytest.raises(InputError, match="unknown field %y"):
        sf.percent_format("%y", codes, "--format")


def jobs_world(world: Cli) -> tuple[int, int, int]:
    array = int(world.json("submit", "--name", "sweep", "--", "true", user="alice")["id"])
    r = world.run("sbatch", "--parsable", "--export=NONE", "--array=0-3%2", "-J", "grid", "-t", "5",
                  "--gres=gpu:1", "--wrap", "true", user="alice")
    grid = int(r.stdout)
    dep = int(world.run("sbatch", "--parsable", "--export=NONE", f"--dependency=afterok:{grid}", "--wrap", "true",
                        user="alice").stdout)
    move(world, grid, A, R, node="b0-r0-n0", gpus=(0,))
    return array, grid, dep


def test_squeue(world: Cli) -> None:
    single, grid, dep = jobs_world(world)
    lines = world.ok("squeue", user="alice").stdout.splitlines()
    assert lines[0].split() == ["JOBID", "PARTITION", "NAME", "USER", "ST", "TIME", "NODES", "NODELIST(REASON)"]
    rows = [line.split() for line in lines[1:]]
    assert rows[0][:5] == [f"{grid}_0", "H100-80GB", "grid", "alice", "R"] and rows[0][-1] == "b0-r0-n0"
    labels = [r[0] for r in rows[1:]]
    assert labels == [str(single), f"{grid}_[1-3%2]", str(dep)]  # pending in queue order, the array's together
    expanded = world.ok("squeue", "-r", "-h", "-t", "pd", "-o", "%i %K %E", user="alice").stdout.splitlines()
    assert expanded == [f"{single} N/A (null)", f"{grid}_1 1 (null)", f"{grid}_2 2 (null)", f"{grid}_3 3 (null)",
                        f"{dep} N/A afterok:{grid}"]
    assert world.ok("squeue", "-h", "-j", f"{grid}_2", "-r", "-o", "%i", user="alice").stdout.split() == [f"{grid}_2"]
    assert world.ok("squeue", "-h", "-n", "grid", "-o", "%i", user="alice").stdout.split() == [
        f"{grid}_0", f"{grid}_[1-3%2]"]
    other = world.run("squeue", "-h", "-u", "bob", user="amin")  # another org's user: not found
    assert other.exit_code == 2 and other.stderr == "error: user 'bob' not found\n"


def test_scancel(world: Cli) -> None:
    single, grid, dep = jobs_world(world)
    assert world.run("scancel", f"{grid}_[2-3]", user="alice").exit_code == 0
    out = world.run("scancel", f"{grid}_9", str(single), "999999", user="alice")
    assert out.exit_code == 1 and out.stderr.splitlines() == [
        f"scancel: error: Kill job error on job id {grid}_9: Invalid job id specified",
        "scancel: error: Kill job error on job id 999999: Invalid job id specified"]
    states = {j["id"]: j["state"] for j in world.json("jobs", user="alice")["items"]}
    assert states[single] == "cancelled" and states[grid] == "running"
    assert world.json("scancel", "-t", "PD", "--me", user="alice")["cancelled"] == [grid + 1, dep]
    bob = world.run("scancel", str(grid), user="bob")
    assert bob.exit_code == 1 and "Invalid job id" in bob.stderr
    assert "--signal" in world.run("scancel", "-s", "USR1", str(grid), user="alice").stderr


def test_sacct(world: Cli) -> None:
    single, grid, dep = jobs_world(world)
    move(world, single, A, R, OK)
    lines = world.ok("sacct", user="alice").stdout.splitlines()
    assert lines[0].split() == ["JobID", "JobName", "Partition", "Account", "AllocGPUS", "State", "ExitCode"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows[str(single)][-2:] == ["COMPLETED", "0:0"] and rows[f"{grid}_0"][-2:] == ["RUNNING", "0:0"]
    assert rows[str(dep)][-3:] == ["0", "PENDING", "0:0"]
    narrow = world.ok("sacct", "-j", str(grid), "-o", "JobID,State%4", "-n", user="alice").stdout.splitlines()
    assert [line.split() for line in narrow] == [[f"{grid}_0", "RUN+"], [f"{grid}_1", "PEN+"], [f"{grid}_2", "PEN+"],
                                                 [f"{grid}_3", "PEN+"]]
    assert world.ok("sacct", "-P", "-b", "-j", str(single), user="alice").stdout.splitlines() == [
        "JobID|State|ExitCode", f"{single}|COMPLETED|0:0"]
    assert "unknown field 'Jobname%x'" in world.run("sacct", "-o", "Jobname%x", user="alice").stderr
    assert world.ok("sacct", "-n", "-s", "CD", "-o", "JobID", user="alice").stdout.split() == [str(single)]


def test_sinfo(world: Cli) -> None:
    jobs_world(world)
    world.ok("node", "down", "b0-r0-n1", "--reason", "bad fan", user="admin")
    lines = world.ok("sinfo", user="alice").stdout.splitlines()
    assert [line.split() for line in lines] == [
        ["PARTITION", "AVAIL", "TIMELIMIT", "NODES", "STATE", "NODELIST"],
        ["H100-80GB", "up", "30-00:00:0", "1", "mix", "b0-r0-n0"],
        ["H100-80GB", "up", "30-00:00:0", "1", "drain", "b0-r0-n1"]]
    assert world.ok("sinfo", "-N", "-h", "-t", "drain", user="alice").stdout.split() == [
        "b0-r0-n1", "1", "H100-80GB", "drain"]
    assert world.ok("sinfo", "-s", "-h", "-o", "%P %F %G", user="alice").stdout.split() == [
        "H100-80GB", "1/0/1/2", "gpu:H100-80GB:4"]
    assert world.ok("sinfo", "-R", "-h", user="alice").stdout.split() == ["bad", "fan", "b0-r0-n1"]
