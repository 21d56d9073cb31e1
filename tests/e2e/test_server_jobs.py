"""The server as a real subprocess: jobs get their GPU ids and environment, logs are readable, walltime kills
a sleeping job, cancel stops a running one, SIGTERM stops the server cleanly, and /metrics answers."""

from __future__ import annotations

import time
from typing import Any

import pytest
from server_proc import ServerProcess, wait_for


@pytest.mark.parametrize("workers", [1, 2])
def test_walltime_cancel_logs_and_metrics(server_factory: Any, workers: int) -> None:
    """``workers=2``: API processes and a separate loop process (wake-ups, metrics summed over processes)."""
    server: ServerProcess = server_factory(cluster="1x4:H100", workers=workers)
    with server.client() as c:
        assert c.post("/api/v1/orgs", json={"name": "lab"}).status_code == 201

        def submit(argv: list[str], **body: Any) -> int:
            r = c.post("/api/v1/jobs", json={"argv": argv, "org": "lab", **body})
            assert r.status_code == 201, r.text
            return int(r.json()["id"])

        def job(jid: int) -> dict[str, Any]:
            out: dict[str, Any] = c.get(f"/api/v1/jobs/{jid}").json()
            return out

        def ended(jid: int) -> dict[str, Any] | None:
            j = job(jid)
            return j if j["state"] in ("succeeded", "failed", "cancelled", "timed_out") else None

        echo = submit(["sh", "-c", 'echo "id=$GPUCLOUD_JOB_ID gpus=$CUDA_VISIBLE_DEVICES rank=$GPUCLOUD_NODE_RANK"'],
                      num_gpus=2)
        slow = submit(["sleep", "60"], walltime="1s", grace=1)
        victim = submit(["sleep", "60"], grace=1)

        j = wait_for("the echo job", lambda: ended(echo))
        assert j["state"] == "succeeded", j
        log = c.get(f"/api/v1/jobs/{echo}/logs").json()
        assert log["text"].strip() == f"id={echo} gpus=0,1 rank=0" and log["done"]

        wait_for("the victim to run", lambda: job(victim)["state"] == "running")
        assert c.post(f"/api/v1/jobs/{victim}/cancel").status_code == 200
        j = wait_for("the cancel", lambda: ended(victim))
        assert j["state"] == "cancelled" and "signal 15" in j["reason"], j

        j = wait_for("the walltime kill", lambda: ended(slow))
        assert j["state"] == "timed_out" and "walltime" in j["reason"], j

        missing = submit(["no-such-program-e2e"])
        j = wait_for("the launch failure", lambda: ended(missing))
        assert j["state"] == "failed" and "no-such-program-e2e" in j["reason"], j

        metrics = c.get("/metrics").text
        assert 'gpucloud_jobs{state="timed_out"} 1.0' in metrics
        assert 'gpucloud_gpus_total{gpu_type="H100-80GB"} 4.0' in metrics
        assert 'gpucloud_submits_total{outcome="created"} 4.0' in metrics
        assert "gpucloud_control_cycle_seconds_count" in metrics
    assert server.stop() == 0


def test_a_job_that_ended_while_the_server_was_down_ended_when_it_exited(server_factory: Any) -> None:
    """``ended_at`` is when the job's processes exited (their exit record's time), not when the restarted server
    noticed."""
    server: ServerProcess = server_factory(cluster="1x4:H100")
    with server.client() as c:
        assert c.post("/api/v1/orgs", json={"name": "lab"}).status_code == 201
        r = c.post("/api/v1/jobs", json={"argv": ["sleep", "1"], "org": "lab"})
        jid = int(r.json()["id"])
        wait_for("the job to run", lambda: c.get(f"/api/v1/jobs/{jid}").json()["state"] == "running")
    server.kill9()
    time.sleep(4)  # it exits about 1 s in, with no server watching
    restarted = time.time()
    server.start()
    with server.client() as c:
        job = wait_for("the job to be settled", lambda: (j := c.get(f"/api/v1/jobs/{jid}").json())["state"]
                       in ("succeeded", "failed") and j)
    assert job["state"] == "succeeded", job
    assert job["ended_at"] < restarted - 2 and 0.9 <= job["ended_at"] - job["started_at"] < 3, job
