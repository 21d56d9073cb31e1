"""``kill -9`` of the server during a stream of submissions and running jobs: after a restart every
acknowledged job is there exactly once, no job ran twice, and every job reaches a terminal state."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_proc import ServerProcess, wait_for

from gpucloud.service.control.recovery import HALF_LAUNCHED

TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}
N_JOBS = 30
KILL_AFTER_ACKS = 12


def all_jobs(client: httpx.Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/api/v1/jobs", params=params).json()
        out += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def job_body(i: int, markers: Path) -> dict[str, Any]:
    """The first two jobs run long enough to be running at the kill and still after the restart."""
    pause = "6" if i < 2 else "0.2"
    return {
        "argv": ["sh", "-c", f'echo "$GPUCLOUD_JOB_ID" >> "$MARKERS"; sleep {pause}'],
        "env": {"MARKERS": str(markers)}, "org": "lab", "walltime": 120, "grace": 1,
        "idempotency_key": f"job-{i}",
    }


class Submitter(threading.Thread):
    """Submits jobs one after another; a submit counts as acknowledged only when a 200/201 came back."""

    def __init__(self, server: ServerProcess, markers: Path) -> None:
        super().__init__(daemon=True)
        self.client = server.client()
        self.markers = markers
        self.acked: dict[str, int] = {}
        self.unacked: list[int] = []

    def run(self) -> None:
        for i in range(N_JOBS):
            try:
                r = self.client.post("/api/v1/jobs", json=job_body(i, self.markers), timeout=3.0)
                if r.status_code in (200, 201):
                    self.acked[f"job-{i}"] = r.json()["id"]
                    time.sleep(0.03)
                    continue
            except httpx.HTTPError:
                pass
            self.unacked.append(i)


@pytest.mark.parametrize("workers", [1, 2])
def test_kill9_during_submissions_loses_nothing_and_runs_nothing_twice(server_factory: Any, tmp_path: Path,
                                                                      workers: int) -> None:
    """``workers=2``: ``kill -9`` of the supervisor; its API and loop processes must die with it."""
    markers = tmp_path / "markers.txt"
    markers.touch()
    server: ServerProcess = server_factory(cluster="2x4:H100", workers=workers)
    with server.client() as c:
        assert c.post("/api/v1/orgs", json={"name": "lab"}).status_code == 201
        submitter = Submitter(server, markers)
        submitter.start()
        wait_for("acknowledged submissions", lambda: len(submitter.acked) >= KILL_AFTER_ACKS)
        wait_for("a running job", lambda: c.get("/api/v1/jobs", params={"state": "running"}).json()["items"])
        running_at_kill = {j["id"] for j in c.get("/api/v1/jobs", params={"state": "running"}).json()["items"]}
    children = server.children()
    assert len(children) == (0 if workers == 1 else workers + 1)
    server.kill9()
    wait_for("no orphaned server process", lambda: not [p for p in children if _alive(p)], timeout=5)
    submitter.join(30)
    assert not submitter.is_alive()
    assert submitter.unacked, "the kill should have interrupted the stream"

    server.start()
    assert server.printed_token is None  # printed on the very first start only
    with server.client() as c:
        ids = dict(submitter.acked)
        for i in submitter.unacked:  # retry with the same idempotency key: still exactly once
            r = c.post("/api/v1/jobs", json=job_body(i, markers))
            assert r.status_code in (200, 201), r.text
            ids[f"job-{i}"] = r.json()["id"]
        for key, jid in submitter.acked.items():  # an acknowledged key maps to the same job after the restart
            r = c.post("/api/v1/jobs", json=job_body(int(key.split("-")[1]), markers))
            assert r.status_code == 200 and r.json()["id"] == jid, r.text

        def settled() -> list[dict[str, Any]] | None:
            jobs = all_jobs(c)
            return jobs if all(j["state"] in TERMINAL for j in jobs) else None

        jobs = wait_for("every job to end", settled, timeout=40, every=0.2)

    assert len(ids) == N_JOBS and len(set(ids.values())) == N_JOBS
    assert sorted(j["id"] for j in jobs) == sorted(ids.values())  # present exactly once, nothing extra
    by_id = {j["id"]: j for j in jobs}
    lines = markers.read_text().split()
    counts = Counter(lines)
    assert not [jid for jid, n in counts.items() if n > 1], f"jobs ran twice: {counts}"
    for jid, job in by_id.items():
        assert job["run_count"] <= 1, job
        if job["state"] == "succeeded":
            assert counts[str(jid)] == 1, job
        else:  # the only acceptable failure: the server died inside a launch (the job is not launched again)
            assert job["state"] == "failed" and job["reason"] == HALF_LAUNCHED, job
    for jid in running_at_kill:  # re-attached (still running or ended while down), never started again
        job = by_id[jid]
        assert job["state"] == "succeeded" and job["run_count"] == 1, job
    assert sum(j["state"] == "succeeded" for j in jobs) >= N_JOBS - 2
    assert server.stop() == 0
