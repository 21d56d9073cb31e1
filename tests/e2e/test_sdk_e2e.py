"""The Python SDK against a real server (``gpucloud server`` as a subprocess, the local executor running the jobs):
``gpucloud.Client`` and ``gpucloud.AsyncClient`` submit, list, wait (with a timeout), read and follow logs, cancel,
show the queue and usage, and raise the server's errors as :class:`gpucloud.ApiError`."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from server_proc import ServerProcess

import gpucloud


@pytest.fixture
def server(server_factory: Any) -> ServerProcess:
    srv: ServerProcess = server_factory(cluster="1x4:H100")
    assert srv.token is not None
    with gpucloud.Client(srv.url, srv.token) as op:
        op.post("/orgs", {"name": "lab"})
    return srv


def test_submit_wait_logs_cancel_queue_usage(server: ServerProcess, tmp_path: Path) -> None:
    assert server.token is not None
    with gpucloud.Client(server.url, server.token) as c:
        job = c.submit(["sh", "-c", "echo out $GPUCLOUD_JOB_ID; echo err >&2"], gpus=2, org="lab", name="hello",
                       env={"A": "1"}, walltime="1m")
        assert isinstance(job, gpucloud.Job) and job.created and job.state == "pending"
        assert (job.num_gpus, job.name, job.org, job.env, job.argv[0]) == (2, "hello", "lab", {"A": "1"}, "sh")
        assert job.cwd == os.getcwd() and job.walltime_s == 60

        done = c.wait(job.id, timeout=30, poll=0.1)
        assert done.done and done.state == "succeeded" and done.exit_code == 0
        assert [e.to_state for e in done.events] == ["pending", "admitted", "running", "succeeded"]
        assert done.placement and sum(len(p.gpus) for p in done.placement) == 2
        assert "".join(c.logs(job.id, follow=True, poll=0.1)) == f"out {job.id}\n"
        assert "".join(c.logs(job.id, stream="stderr")) == "err\n"

        again = c.submit(["sh", "-c", "echo"], org="lab", idempotency_key="k-1")
        same = c.submit(["sh", "-c", "echo"], org="lab", idempotency_key="k-1")
        assert same.id == again.id and not same.created
        assert c.wait(again.id, timeout=30, poll=0.1).state == "succeeded"

        sleeper = c.submit(["sleep", "60"], gpus=4, org="lab", grace=1)
        blocked = c.submit(["true"], gpus=4, org="lab")
        with pytest.raises(gpucloud.WaitTimeout) as info:
            c.wait(sleeper.id, timeout=0.3, poll=0.1)
        assert info.value.job.id == sleeper.id and not info.value.job.done
        queue = c.queue()
        assert [e.job.id for e in queue.items] == [blocked.id] and queue.items[0].position == 1
        assert queue.total_pending == 1 and queue.items[0].job.reason
        assert c.cancel(blocked.id).state == "cancelled"
        assert c.cancel(sleeper.id).cancel_requested
        assert c.wait(sleeper.id, timeout=30, poll=0.1).state == "cancelled"

        listed = c.jobs()
        assert [j.id for j in listed] == sorted((j.id for j in listed), reverse=True)
        assert {j.id for j in listed} == {job.id, again.id, sleeper.id, blocked.id}
        assert [j.id for j in c.jobs(state="cancelled")] == sorted([blocked.id, sleeper.id], reverse=True)
        assert len(c.jobs(limit=2)) == 2

        rows = c.usage(time.strftime("%Y-%m", time.gmtime()))
        assert all(isinstance(r, gpucloud.UsageRow) for r in rows)


def test_errors_carry_the_servers_words(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    assert server.token is not None
    with gpucloud.Client(server.url, server.token) as c:
        with pytest.raises(gpucloud.ApiError) as missing:
            c.job(999)
        assert missing.value.status == 404 and "job 999 not found" in str(missing.value)
        with pytest.raises(gpucloud.ApiError) as bad:
            c.submit(["true"], org="lab", walltime="soon")
        assert bad.value.status == 422 and str(bad.value).startswith("invalid input: walltime")
        with pytest.raises(ValueError, match="argv"):  # caught before anything is sent
            c.submit([], org="lab")
    with pytest.raises(gpucloud.ApiError) as unauth, gpucloud.Client(server.url, "gpc_nope") as c:
        c.jobs()
    assert unauth.value.status == 401
    for var in ("GPUCLOUD_URL", "GPUCLOUD_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GPUCLOUD_CONFIG", "/nonexistent/config.json")
    with pytest.raises(gpucloud.NotLoggedIn):
        gpucloud.Client(server.url)
    monkeypatch.setenv("GPUCLOUD_URL", server.url)
    monkeypatch.setenv("GPUCLOUD_TOKEN", server.token)
    with gpucloud.Client() as from_env:  # url and token from the environment
        assert from_env.get("/me")["role"] == "operator"


def test_async_client(server: ServerProcess) -> None:
    assert server.token is not None
    token = server.token

    async def scenario() -> None:
        async with gpucloud.AsyncClient(server.url, token) as c:
            jobs = await asyncio.gather(*(c.submit(["sh", "-c", f"echo {i}"], org="lab") for i in range(3)))
            done = await asyncio.gather(*(c.wait(j.id, timeout=30, poll=0.1) for j in jobs))
            assert [d.state for d in done] == ["succeeded"] * 3
            texts = [[t async for t in c.logs(j.id, follow=True, poll=0.1)] for j in jobs]
            assert ["".join(t) for t in texts] == ["0\n", "1\n", "2\n"]
            assert {j.id for j in await c.jobs()} == {j.id for j in jobs}
            assert (await c.queue()).items == ()
            sleeper = await c.submit(["sleep", "60"], org="lab", grace=1)
            with pytest.raises(gpucloud.WaitTimeout):
                await c.wait(sleeper.id, timeout=0.2, poll=0.1)
            await c.cancel(sleeper.id)
            assert (await c.wait(sleeper.id, timeout=30, poll=0.1)).state == "cancelled"
            with pytest.raises(gpucloud.ApiError) as missing:
                await c.job(999)
            assert missing.value.status == 404

    asyncio.run(scenario())
