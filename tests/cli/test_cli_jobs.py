"""Job commands against a real server: submit, jobs, job, cancel, logs, queue, and how errors look."""

from __future__ import annotations

import json
from pathlib import Path

from cli_world import Cli, move, submit

from gpucloud.model.job import JobState
from gpucloud.service import logs as job_logs


def one_line_error(result_stderr: str) -> str:
    lines = [line for line in result_stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result_stderr
    assert "Traceback" not in result_stderr
    return lines[0]


def test_submit_then_jobs_queue_and_job(world: Cli, tmp_path: Path) -> None:
    job_id = submit(world, "alice", "--gpus", "2", "--walltime", "30m", "--name", "train", "--env", "SEED=1",
                    "--env", "X=a=b", "--cwd", str(tmp_path), "--priority", "high", "--grace", "30s",
                    "--no-preemptible", "--", "python", "train.py", "--lr", "3")
    job = world.json("job", str(job_id), user="alice")
    assert job["argv"] == ["python", "train.py", "--lr", "3"]
    assert (job["num_gpus"], job["walltime_s"], job["grace_s"], job["priority"]) == (2, 1800, 30, "high")
    assert job["env"] == {"SEED": "1", "X": "a=b"} and job["cwd"] == str(tmp_path)
    assert job["preemptible"] is False and job["name"] == "train" and job["state"] == "pending"
    assert [e["to_state"] for e in job["events"]] == ["pending"]

    listed = world.json("jobs", user="alice")
    assert [j["id"] for j in listed["items"]] == [job_id] and listed["next_cursor"] is None
    queue = world.json("queue", user="alice")
    assert queue["total_pending"] == 1
    assert [(e["position"], e["job"]["id"], e["job"]["org"]) for e in queue["items"]] == [(1, job_id, "alpha")]

    table = world.ok("job", str(job_id), user="alice").stdout
    assert "events" in table and "submitted by alice" in table and "python train.py --lr 3" in table
    assert "train" in world.ok("jobs", user="alice").stdout
    assert "alpha" in world.ok("queue", user="alice").stdout


def test_submit_defaults_cwd_gang_and_json(world: Cli) -> None:
    out = world.json("submit", "--nodes", "2", "--gpus-per-node", "4", "--", "hostname", user="alice")
    assert out["created"] is True and (out["nodes"], out["num_gpus"]) == (2, 4 * 2)
    assert out["cwd"] == str(Path.cwd())


def test_idempotency_key_returns_the_first_job(world: Cli) -> None:
    first = submit(world, "alice", "--idempotency-key", "run-42", "--", "true")
    again = world.ok("submit", "--idempotency-key", "run-42", "--", "true", user="alice")
    assert int(again.stdout.strip()) == first and "already submitted" in again.stderr
    assert submit(world, "alice", "--", "true") != first  # a random key by default


def test_jobs_filters_and_pages(world: Cli) -> None:
    ids = [submit(world, "alice", "--", "true") for _ in range(3)]
    page = world.json("jobs", "--limit", "2", user="alice")
    assert [j["id"] for j in page["items"]] == ids[::-1][:2] and page["next_cursor"] is not None
    assert "--all" in world.ok("jobs", "--limit", "2", user="alice").stderr
    everything = world.json("jobs", "--limit", "2", "--all", user="alice")
    assert sorted(j["id"] for j in everything["items"]) == ids
    world.ok("cancel", str(ids[0]), user="alice")
    assert [j["id"] for j in world.json("jobs", "--state", "cancelled", user="alice")["items"]] == [ids[0]]
    assert world.json("jobs", "--user", "alice", user="amin")["items"]
    assert world.json("jobs", user="bob")["items"] == []


def test_cancel(world: Cli) -> None:
    job_id = submit(world, "alice", "--", "sleep", "100")
    result = world.ok("cancel", str(job_id), user="alice")
    assert f"job {job_id} cancelled" in result.stdout
    job = world.json("job", str(job_id), user="alice")
    assert job["state"] == "cancelled" and [e["to_state"] for e in job["events"]] == ["pending", "cancelled"]
    again = world.run("cancel", str(job_id), user="alice")
    assert again.exit_code != 0 and "already ended" in one_line_error(again.stderr)


def test_cancel_running_job_is_requested(world: Cli) -> None:
    job_id = submit(world, "alice", "--", "sleep", "100")
    move(world, job_id, JobState.ADMITTED, JobState.RUNNING)
    out = world.json("cancel", str(job_id), user="alice")
    assert out["cancel_requested"] is True and out["state"] == "running"


def test_other_org_gets_not_found(world: Cli) -> None:
    job_id = submit(world, "alice", "--", "true")
    for args in (["job", str(job_id)], ["cancel", str(job_id)], ["logs", str(job_id)]):
        result = world.run(*args, user="bob")
        assert result.exit_code != 0
        line = one_line_error(result.stderr)
        assert "not found" in line and f"job {job_id}" in line
    assert world.json("queue", user="bob")["items"] == []


def test_bad_walltime_names_the_field(world: Cli) -> None:
    for bad in ("-5", "soon"):
        result = world.run("submit", "--walltime", bad, "--", "true", user="alice")
        assert result.exit_code != 0
        line = one_line_error(result.stderr)
        assert "walltime" in line and "invalid input" in line, line
    result = world.run("submit", "--gpu-type", "Z80", "--", "true", user="alice")
    assert result.exit_code != 0 and "gpu_type" in one_line_error(result.stderr)


def test_local_input_errors(world: Cli) -> None:
    for args, field in ((["--env", "NOVALUE", "--", "true"], "--env"),
                        (["--gpus-per-node", "4", "--", "true"], "--gpus-per-node"),
                        (["--nodes", "2", "--gpus-per-node", "4", "--gpus", "3", "--", "true"], "--gpus"),
                        ([], "COMMAND")):
        result = world.run("submit", *args, user="alice")
        assert result.exit_code == 2 and field in one_line_error(result.stderr)


def write_log(cli: Cli, job_id: int, stream: str, text: str) -> None:
    """Store a job's output as the control loop does when it copies it from the job's host."""
    with cli.server.app.state.gpucloud.sessions.begin() as session:
        job_logs.append(session, (job_id, 0, stream), job_logs.StreamEnd(), 0, text.encode())


def test_logs_and_follow(world: Cli) -> None:
    job_id = submit(world, "alice", "--", "echo", "hi")
    write_log(world, job_id, "stdout", "hello\nworld ✓\n")
    write_log(world, job_id, "stderr", "oops\n")
    assert world.ok("logs", str(job_id), user="alice").stdout == "hello\nworld ✓\n"
    assert world.ok("logs", str(job_id), "--stderr", user="alice").stdout == "oops\n"
    assert world.ok("logs", str(job_id), user="amin").stdout == "hello\nworld ✓\n"
    move(world, job_id, JobState.ADMITTED, JobState.RUNNING, JobState.SUCCEEDED)
    followed = world.ok("logs", str(job_id), "-f", "--poll", "0.05", user="alice")
    assert followed.stdout == "hello\nworld ✓\n"
    as_json = json.loads(world.ok("logs", str(job_id), "--json", user="alice").stdout)
    assert as_json["text"] == "hello\nworld ✓\n" and as_json["done"] is True


def test_logs_of_a_job_without_output(world: Cli) -> None:
    job_id = submit(world, "alice", "--", "true")
    assert world.ok("logs", str(job_id), user="alice").stdout == ""


def test_operator_submits_to_an_org(world: Cli) -> None:
    out = world.json("submit", "--org", "beta", "--", "true", user="admin")
    assert out["org"] == "beta"
    assert world.json("queue", "--org", "beta", user="admin")["items"][0]["job"]["id"] == out["id"]
    refused = world.run("submit", "--org", "beta", "--", "true", user="alice")
    assert refused.exit_code != 0 and "forbidden" in one_line_error(refused.stderr)
