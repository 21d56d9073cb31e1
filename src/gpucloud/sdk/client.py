"""``gpucloud.Client``: the synchronous Python client of the REST API, and the one the CLI sends every call with.

Two levels, one connection:

* typed calls — :meth:`~Client.submit`, :meth:`~Client.job`, :meth:`~Client.jobs`, :meth:`~Client.wait`,
  :meth:`~Client.logs`, :meth:`~Client.cancel`, :meth:`~Client.queue`, :meth:`~Client.usage` — that return the
  dataclasses of :mod:`gpucloud.sdk.models`;
* JSON calls — :meth:`~Client.get`, :meth:`~Client.post`, ... and the page iterators — that return the server's
  JSON as it is (the CLI prints it with ``--json``).

Every failure raises :class:`~gpucloud.sdk.errors.ApiError` with a one-line message in the server's words.
The models module is imported by the first typed call, so a CLI command that only needs JSON does not pay for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import quote, urlencode, urlsplit

from gpucloud.sdk import calls
from gpucloud.sdk.config import load_config, normalize_url
from gpucloud.sdk.errors import ApiError, NotLoggedIn, WaitTimeout, error_for
from gpucloud.sdk.http import ConnectFailed, Connection, Response, TimedOut, TransportError

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

    from gpucloud.sdk.models import Cancelled, Job, Queue, UsageRow  # imported by the typed calls themselves

API_PREFIX = "/api/v1"
TIMEOUT_S = 30.0
USER_AGENT = "gpucloud-sdk/0.1"


def seg(name: object) -> str:
    """``name`` quoted for use as one path segment."""
    return quote(str(name), safe="")


def credentials(url: str | None, token: str | None) -> tuple[str, str]:
    """``url`` and ``token``, each taken from the environment or the config file when not given."""
    if url is None or token is None:
        cfg = load_config()
        url = url or cfg.url
        token = token or cfg.token
    if not token:
        raise NotLoggedIn("not logged in: run gpucloud login --url URL --token TOKEN (or set GPUCLOUD_TOKEN)")
    return normalize_url(url), token


def query_string(params: Mapping[str, Any] | None) -> str:
    """``?a=1&state=x&state=y`` (None dropped, lists repeated, booleans as true/false); "" when empty."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        for v in value if isinstance(value, list | tuple) else [value]:
            if v is not None:
                pairs.append((key, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return "?" + urlencode(pairs) if pairs else ""


class Client:
    """A client of the gpucloud server at ``url`` with ``token``; either is read from ``GPUCLOUD_URL`` /
    ``GPUCLOUD_TOKEN`` or the config file of ``gpucloud login`` when not given. Use it as a context manager
    (or call :meth:`close`); it keeps one connection open between calls."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = TIMEOUT_S) -> None:
        self.url, token = credentials(url, token)
        self._prefix = urlsplit(self.url).path
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                         "User-Agent": USER_AGENT}
        try:
            self._conn = Connection(self.url, timeout)
        except ValueError as exc:
            raise ApiError(f"bad server URL: {exc}") from None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    # --- JSON calls --------------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
                retries: int = 0) -> Any:
        """Send one API call and return its decoded JSON body (None for an empty one).

        ``path`` is relative to ``/api/v1`` (``/healthz`` excepted). A call that could not be sent or answered
        is sent again ``retries`` times with the same body (so a retried submit keeps its idempotency key).
        """
        response = self._send(method, path, body, params, retries)
        if not response.body:
            return None
        try:
            return json.loads(response.body)
        except ValueError:
            raise ApiError(f"{self.url} did not answer with JSON (is it a gpucloud server?)") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, *, retries: int = 0) -> Any:
        return self.request("POST", path, body=body, retries=retries)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, body=body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.request("PATCH", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def get_text(self, path: str, **params: Any) -> str:
        """A GET whose answer is text (e.g. CSV), returned as is."""
        return self._send("GET", path, None, params, 0).text()

    def job_pages(self, *, state: str | Sequence[str] | None = None, org: str | None = None,
                  user: str | None = None, page_size: int = 100, **filters: Any) -> Iterator[dict[str, Any]]:
        """Pages of ``GET /jobs`` (``{"items", "next_cursor"}``), newest jobs first, until the last."""
        query = calls.job_query(state, org, user, limit=page_size, **filters)
        while True:
            page: dict[str, Any] = self.get("/jobs", **query)
            yield page
            if page["next_cursor"] is None:
                return
            query["cursor"] = page["next_cursor"]

    def log_pages(self, job_id: int, *, stream: str = "stdout", follow: bool = False, rank: int = 0,
                  poll: float = 1.0) -> Iterator[dict[str, Any]]:
        """Pages of a job's log (``{"text", "offset", "next_offset", "size", "done", ...}``) from its start:
        everything written so far, or with ``follow`` until the job has ended and all of it has been read."""
        offset = 0
        while True:
            page: dict[str, Any] = self.get(f"/jobs/{seg(job_id)}/logs", **calls.log_query(stream, offset, rank))
            yield page
            offset, stop, caught_up = calls.log_step(page, follow)
            if stop:
                return
            if caught_up:
                time.sleep(poll)

    # --- typed calls -------------------------------------------------------------------------------------------

    def submit(self, argv: Sequence[str], *, gpus: int | None = None, nodes: int | None = None,
               gpus_per_node: int | None = None, gpu_type: str | None = None, walltime: str | float | None = None,
               priority: str | None = None, preemptible: bool | None = None, grace: str | float | None = None,
               org: str | None = None, project: str | None = None, name: str | None = None,
               env: Mapping[str, str] | None = None, cwd: str | None = None, idempotency_key: str | None = None,
               service_class: str | None = None, reservation: str | None = None, array: str | None = None,
               dependency: str | None = None) -> Job:
        """Submit ``argv`` as a job; the server's defaults apply to what is not given (1 GPU, walltime 1h, ...).

        ``walltime`` and ``grace`` are seconds or ``"90s"``, ``"30m"``, ``"1h30m"``, ``"2d"``. ``cwd`` defaults to
        the current directory. A lost answer is retried once with the same idempotency key, never making two jobs.
        ``array`` (``"0-99%10"``) makes a job array and returns its first task; ``dependency`` (``"afterok:12"``,
        ``"singleton"``, as Slurm writes it) is what the job waits for.
        """
        body = calls.submit_body(
            argv, gpus=gpus, nodes=nodes, gpus_per_node=gpus_per_node, preemptible=preemptible, env=env, cwd=cwd,
            idempotency_key=idempotency_key, gpu_type=gpu_type, walltime=walltime, priority=priority, grace=grace,
            org=org, project=project, name=name, service_class=service_class, reservation=reservation, array=array,
            dependency=dependency)
        from gpucloud.sdk.models import Job

        return Job.from_json(self.post("/jobs", body, retries=1))

    def job(self, job_id: int) -> Job:
        """One job with every state change (``events``)."""
        from gpucloud.sdk.models import Job

        return Job.from_json(self.get(f"/jobs/{seg(job_id)}"))

    def jobs(self, *, state: str | Sequence[str] | None = None, org: str | None = None, user: str | None = None,
             limit: int | None = None, array: int | None = None) -> list[Job]:
        """The jobs the caller may see, newest first: all of them, or the newest ``limit``; ``array``: the tasks of
        that job array."""
        from gpucloud.sdk.models import Job

        size = min(calls.MAX_PAGE, limit) if limit else calls.MAX_PAGE
        out: list[Job] = []
        for page in self.job_pages(state=state, org=org, user=user, page_size=size, array=array):
            out += (Job.from_json(j) for j in page["items"])
            if limit and len(out) >= limit:
                return out[:limit]
        return out

    def cancel(self, job_id: int) -> Job:
        """Cancel a job: a pending one at once; a running one is stopped by the control loop
        (``cancel_requested`` is then true and :meth:`wait` sees it end)."""
        from gpucloud.sdk.models import Job

        return Job.from_json(self.post(f"/jobs/{seg(job_id)}/cancel"))

    def cancel_many(self, jobs: Sequence[str | int] = (), *, name: str | None = None, user: str | None = None,
                    project: str | None = None, states: Sequence[str] = ()) -> Cancelled:
        """Cancel many jobs in one call, as ``scancel`` does: ``jobs`` are ids (an array's id: all its tasks) or
        tasks (``"12_3"``, ``"12_[1-5]"``); the filters narrow them (or, without ``jobs``, select among the jobs
        that have not ended)."""
        from gpucloud.sdk.models import Cancelled

        return Cancelled.from_json(self.post("/jobs/cancel", calls.cancel_body(jobs, name, user, project, states)))

    def wait(self, job_id: int, *, timeout: float | None = None, poll: float = 0.5) -> Job:
        """Wait until the job has ended and return it; :class:`~gpucloud.sdk.errors.WaitTimeout` after
        ``timeout`` seconds (None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job.done:
                return job
            if deadline is not None and time.monotonic() + poll > deadline:
                raise WaitTimeout(f"job {job_id} is still {job.state} after {timeout:g} s", job)
            time.sleep(poll)

    def logs(self, job_id: int, *, stream: str = "stdout", follow: bool = False, rank: int = 0,
             poll: float = 1.0) -> Iterator[str]:
        """A job's ``stdout`` (or ``stderr``) in pieces of text: what is written so far, or with ``follow`` until
        the job has ended. ``rank`` picks a process of a multi-node job (0: the first)."""
        for page in self.log_pages(job_id, stream=stream, follow=follow, rank=rank, poll=poll):
            if page["text"]:
                yield page["text"]

    def queue(self, *, org: str | None = None) -> Queue:
        """The pending jobs the caller may see, in scheduling order, each with why it waits (``job.reason``)."""
        from gpucloud.sdk.models import Queue

        return Queue.from_json(self.get("/queue", org=org))

    def usage(self, month: str, *, by_user: bool = False) -> list[UsageRow]:
        """A UTC month's (``YYYY-MM``) usage by org, project (and user) and GPU type."""
        from gpucloud.sdk.models import UsageRow

        return [UsageRow.from_json(r) for r in self.get("/usage", month=month, format="json", by_user=by_user)]

    # --- sending -----------------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: Any, params: Mapping[str, Any] | None,
              retries: int) -> Response:
        target = self._prefix + (path if path.startswith("/healthz") else API_PREFIX + path) + query_string(params)
        headers = self._headers
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers = {**headers, "Content-Type": "application/json"}
        elif method in ("POST", "PUT", "PATCH"):
            data = b""
        attempt = 0
        while True:
            try:
                response = self._conn.request(method, target, headers, data)
                break
            except TransportError as exc:
                if attempt < retries:
                    attempt += 1
                    continue
                raise self._transport_error(exc) from None
        if response.status >= 400:
            raise error_for(response.status, response.reason, response.body, self.url + target)
        return response

    def _transport_error(self, exc: TransportError) -> ApiError:
        if isinstance(exc, ConnectFailed):
            return ApiError(f"cannot reach the gpucloud server at {self.url}: {exc}")
        if isinstance(exc, TimedOut):
            return ApiError(f"the gpucloud server at {self.url} did not answer in time")
        return ApiError(f"talking to the gpucloud server at {self.url} failed: {exc}")
