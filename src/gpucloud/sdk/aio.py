"""``gpucloud.AsyncClient``: the asyncio twin of :class:`gpucloud.Client`, on httpx (imported only here).

The same typed calls with the same arguments, as coroutines (:meth:`~AsyncClient.logs` is an async iterator),
the same models and the same :class:`~gpucloud.sdk.errors.ApiError` messages; the requests themselves are
built by :mod:`gpucloud.sdk.calls`, shared with the synchronous client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from gpucloud.sdk import calls
from gpucloud.sdk.client import API_PREFIX, TIMEOUT_S, USER_AGENT, credentials, query_string, seg
from gpucloud.sdk.errors import ApiError, WaitTimeout, error_for
from gpucloud.sdk.models import Cancelled, Job, Queue, UsageRow


class AsyncClient:
    """An asyncio client of the gpucloud server at ``url`` with ``token`` (from the environment or the config
    file when not given). Use ``async with AsyncClient() as c:`` (or ``await c.close()``)."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = TIMEOUT_S,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url, token = credentials(url, token)
        self._prefix = urlsplit(self.url).path
        self._origin = self.url.removesuffix(self._prefix)
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": USER_AGENT},
            timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # --- JSON calls --------------------------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
                      retries: int = 0) -> Any:
        """Send one API call and return its decoded JSON body (None for an empty one); see
        :meth:`gpucloud.Client.request`."""
        target = self._prefix + (path if path.startswith("/healthz") else API_PREFIX + path) + query_string(params)
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, self._origin + target, json=body)
                break
            except httpx.TransportError as exc:
                if attempt < retries:
                    attempt += 1
                    continue
                raise self._transport_error(exc) from None
        if response.is_error:
            raise error_for(response.status_code, response.reason_phrase, response.content, str(response.url))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"{self.url} did not answer with JSON (is it a gpucloud server?)") from None

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any = None, *, retries: int = 0) -> Any:
        return await self.request("POST", path, body=body, retries=retries)

    # --- typed calls -------------------------------------------------------------------------------------------

    async def submit(self, argv: Sequence[str], *, gpus: int | None = None, nodes: int | None = None,
                     gpus_per_node: int | None = None, gpu_type: str | None = None,
                     walltime: str | float | None = None, priority: str | None = None,
                     preemptible: bool | None = None, grace: str | float | None = None, org: str | None = None,
                     project: str | None = None, name: str | None = None, env: Mapping[str, str] | None = None,
                     cwd: str | None = None, idempotency_key: str | None = None, service_class: str | None = None,
                     reservation: str | None = None, array: str | None = None,
                     dependency: str | None = None) -> Job:
        """Submit ``argv`` as a job; see :meth:`gpucloud.Client.submit`."""
        body = calls.submit_body(
            argv, gpus=gpus, nodes=nodes, gpus_per_node=gpus_per_node, preemptible=preemptible, env=env, cwd=cwd,
            idempotency_key=idempotency_key, gpu_type=gpu_type, walltime=walltime, priority=priority, grace=grace,
            org=org, project=project, name=name, service_class=service_class, reservation=reservation, array=array,
            dependency=dependency)
        return Job.from_json(await self.post("/jobs", body, retries=1))

    async def job(self, job_id: int) -> Job:
        """One job with every state change (``events``)."""
        return Job.from_json(await self.get(f"/jobs/{seg(job_id)}"))

    async def jobs(self, *, state: str | Sequence[str] | None = None, org: str | None = None,
                   user: str | None = None, limit: int | None = None, array: int | None = None) -> list[Job]:
        """The jobs the caller may see, newest first: all of them, or the newest ``limit`` (``array``: its tasks)."""
        query = calls.job_query(state, org, user, limit=min(calls.MAX_PAGE, limit) if limit else calls.MAX_PAGE,
                                array=array)
        out: list[Job] = []
        while True:
            page = await self.get("/jobs", **query)
            out += (Job.from_json(j) for j in page["items"])
            if limit and len(out) >= limit:
                return out[:limit]
            if page["next_cursor"] is None:
                return out
            query["cursor"] = page["next_cursor"]

    async def cancel(self, job_id: int) -> Job:
        """Cancel a job; see :meth:`gpucloud.Client.cancel`."""
        return Job.from_json(await self.post(f"/jobs/{seg(job_id)}/cancel"))

    async def cancel_many(self, jobs: Sequence[str | int] = (), *, name: str | None = None, user: str | None = None,
                          project: str | None = None, states: Sequence[str] = ()) -> Cancelled:
        """Cancel many jobs in one call; see :meth:`gpucloud.Client.cancel_many`."""
        return Cancelled.from_json(await self.post("/jobs/cancel", calls.cancel_body(jobs, name, user, project,
                                                                                      states)))

    async def wait(self, job_id: int, *, timeout: float | None = None, poll: float = 0.5) -> Job:
        """Wait until the job has ended and return it; :class:`~gpucloud.sdk.errors.WaitTimeout` after
        ``timeout`` seconds (None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = await self.job(job_id)
            if job.done:
                return job
            if deadline is not None and time.monotonic() + poll > deadline:
                raise WaitTimeout(f"job {job_id} is still {job.state} after {timeout:g} s", job)
            await asyncio.sleep(poll)

    async def logs(self, job_id: int, *, stream: str = "stdout", follow: bool = False, rank: int = 0,
                   poll: float = 1.0) -> AsyncIterator[str]:
        """A job's output in pieces of text; see :meth:`gpucloud.Client.logs`."""
        offset = 0
        while True:
            page = await self.get(f"/jobs/{seg(job_id)}/logs", **calls.log_query(stream, offset, rank))
            if page["text"]:
                yield page["text"]
            offset, stop, caught_up = calls.log_step(page, follow)
            if stop:
                return
            if caught_up:
                await asyncio.sleep(poll)

    async def queue(self, *, org: str | None = None) -> Queue:
        """The pending jobs the caller may see, in scheduling order."""
        return Queue.from_json(await self.get("/queue", org=org))

    async def usage(self, month: str, *, by_user: bool = False) -> list[UsageRow]:
        """A UTC month's (``YYYY-MM``) usage by org, project (and user) and GPU type."""
        rows = await self.get("/usage", month=month, format="json", by_user=by_user)
        return [UsageRow.from_json(r) for r in rows]

    def _transport_error(self, exc: httpx.TransportError) -> ApiError:
        if isinstance(exc, httpx.ConnectError):
            why = str(exc).split("]")[-1].strip() or "connection refused"
            return ApiError(f"cannot reach the gpucloud server at {self.url}: {why}")
        if isinstance(exc, httpx.TimeoutException):
            return ApiError(f"the gpucloud server at {self.url} did not answer in time")
        return ApiError(f"talking to the gpucloud server at {self.url} failed: {exc or type(exc).__name__}")
