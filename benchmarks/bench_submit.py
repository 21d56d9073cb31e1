"""Submission throughput: the real ``gpucloud server`` as a subprocess (SQLite in a temporary directory, a 16 × 8
cluster, the no-op executor by default), and N one-GPU submissions from this separate client process over 8–16
concurrent keep-alive connections (one httpx client per thread). Prints acknowledged jobs/s and the p50 / p99
submit latency. A job counts as acknowledged when its ``201`` arrived, i.e. after its commit.

    .venv/bin/python benchmarks/bench_submit.py [--jobs 5000] [--concurrency 16] [--executor noop|local]

The other benchmarks (``bench_drain.py``, ``bench_burst.py``) reuse the helpers of this file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gpucloud_command() -> list[str]:
    script = Path(sys.executable).with_name("gpucloud")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gpucloud.cli.main"]


@dataclass
class Running:
    url: str
    admin_token: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log: Path


@contextmanager
def server(cluster: str, executor: str = "noop", tick: float = 0.5, keep: bool = False,
           workers: int | None = None, extra: tuple[str, ...] = ()) -> Iterator[Running]:
    """Start ``gpucloud server`` on a fresh SQLite database (``workers``: its ``--workers``, None: the server's
    default; ``extra``: more options); stop it (SIGTERM) on exit."""
    tmp = Path(tempfile.mkdtemp(prefix="gpucloud-bench-"))
    data_dir = tmp / "data"
    port = free_port()
    log = tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUCLOUD_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*gpucloud_command(), "server", "--data-dir", str(data_dir), "--cluster", cluster, "--port", str(port),
             "--executor", executor, "--tick", str(tick), *([] if workers is None else ["--workers", str(workers)]),
             *extra],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server not ready within {START_TIMEOUT_S}s:\n{log.read_text()}")
            time.sleep(0.05)
        token = next(line.split("operator token:", 1)[1].strip() for line in log.read_text().splitlines()
                     if "operator token:" in line)
        yield Running(url, token, data_dir, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if keep:
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def member_token(url: str, admin_token: str, org: str = "bench", user: str = "bench-user") -> str:
    """Create an org and a member in it; that member's token (jobs are submitted as a tenant user)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30.0) as c:
        c.post("/api/v1/orgs", json={"name": org}).raise_for_status()
        c.post("/api/v1/users", json={"name": user, "role": "member", "org": org}).raise_for_status()
        r = c.post("/api/v1/tokens", json={"user": user, "description": "benchmark"})
        r.raise_for_status()
        return str(r.json()["token"])


@dataclass
class SubmitRun:
    started: float  # time.time() of the first request
    first_ack: float
    last_ack: float  # time.time() of the last acknowledgement
    latencies: list[float] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    errors: int = 0

    @property
    def elapsed(self) -> float:
        return self.last_ack - self.started

    @property
    def rate(self) -> float:
        return len(self.ids) / self.elapsed if self.elapsed > 0 else float("nan")


CLIENTS = ("lean", "httpx")


def submit_many(url: str, token: str, n: int, concurrency: int, body: dict[str, Any],
                client: str = "lean") -> SubmitRun:
    """Submit ``n`` copies of ``body`` over ``concurrency`` keep-alive connections, one request in flight on each.

    ``client="lean"``: asyncio streams with hand-written HTTP/1.1 requests (a real JSON body and bearer header per
    request; the answer's status line, ``Content-Length`` and JSON body are parsed). ``client="httpx"``: one thread
    per connection, each with its own httpx client (about 1 ms of client CPU per request more).
    """
    if client == "httpx":
        return _submit_many_httpx(url, token, n, concurrency, body)
    if client != "lean":
        raise ValueError(f"unknown client {client!r} (known: {', '.join(CLIENTS)})")
    import asyncio

    return asyncio.run(_submit_many_lean(url, token, n, concurrency, body))


async def _submit_many_lean(url: str, token: str, n: int, concurrency: int, body: dict[str, Any]) -> SubmitRun:
    import asyncio
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (f"POST /api/v1/jobs HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()
    remaining = [n]
    latencies: list[float] = []
    ids: list[int] = []
    errors = [0]
    acks: list[float] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                data = json.dumps(body).encode()
                t0 = time.perf_counter()
                writer.write(head + str(len(data)).encode() + b"\r\n\r\n" + data)
                status, answer = await _read_response(reader)
                dt = time.perf_counter() - t0
                if status in (200, 201):
                    latencies.append(dt)
                    ids.append(int(json.loads(answer)["id"]))
                else:
                    errors[0] += 1
        finally:
            acks.append(time.time())
            writer.close()

    # open every connection before the clock starts
    conns = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(concurrency)))
    started = time.time()
    results = await asyncio.gather(*(connection(r, w) for r, w in conns), return_exceptions=True)
    errors[0] += sum(1 for r in results if isinstance(r, BaseException))
    return SubmitRun(started, started, max(acks), latencies, ids, errors[0])


async def _read_response(reader: Any) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a ``Content-Length``: its status code and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def _submit_many_httpx(url: str, token: str, n: int, concurrency: int, body: dict[str, Any]) -> SubmitRun:
    """Submit ``n`` copies of ``body`` from ``concurrency`` threads, one keep-alive httpx connection each."""
    counter = iter(range(n))
    lock = threading.Lock()
    latencies: list[float] = []
    ids: list[int] = []
    errors = [0]
    acks: list[float] = []
    barrier = threading.Barrier(concurrency + 1)

    def worker() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0,
                          limits=httpx.Limits(max_connections=1)) as c:
            c.get("/healthz")  # open the connection before the clock starts
            barrier.wait()
            mine: list[float] = []
            mine_ids: list[int] = []
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                t0 = time.perf_counter()
                try:
                    r = c.post("/api/v1/jobs", json=body)
                except httpx.HTTPError:
                    with lock:
                        errors[0] += 1
                    continue
                dt = time.perf_counter() - t0
                if r.status_code in (200, 201):
                    mine.append(dt)
                    mine_ids.append(int(r.json()["id"]))
                else:
                    with lock:
                        errors[0] += 1
            end = time.time()
            with lock:
                latencies.extend(mine)
                ids.extend(mine_ids)
                acks.append(end)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.time()
    for t in threads:
        t.join()
    return SubmitRun(started, started, max(acks), latencies, ids, errors[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (and its finished children) from ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of process ``pid`` and every live descendant (a server with ``--workers N`` is several)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu_seconds(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return total


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def all_jobs(url: str, token: str) -> list[dict[str, Any]]:
    """Every job the token may see (paged, newest first)."""
    out: list[dict[str, Any]] = []
    cursor: int | None = None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0) as c:
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor is not None:
                params["cursor"] = cursor
            page = c.get("/api/v1/jobs", params=params).json()
            out += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return out


def job_counts(url: str) -> dict[str, float]:
    """``gpucloud_jobs{state}`` from ``/metrics`` (no token needed)."""
    counts: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30.0).text.splitlines():
        if line.startswith("gpucloud_jobs{"):
            state = line.split('state="', 1)[1].split('"', 1)[0]
            counts[state] = float(line.rsplit(" ", 1)[1])
    return counts


JOB = {"argv": ["true"], "num_gpus": 1, "walltime": 600}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=200, help="submissions before the measurement")
    ap.add_argument("--executor", default="noop", choices=["noop", "local"])
    ap.add_argument("--cluster", default="16x8:H100")
    ap.add_argument("--client", default="lean", choices=CLIENTS,
                    help="lean: asyncio streams, hand-written HTTP/1.1 (default); httpx: one httpx client per thread")
    ap.add_argument("--workers", type=int, default=None,
                    help="the server's --workers (API processes; default: the server's default, one per core)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    ap.add_argument("--profile", metavar="SVG", help="record the server with py-spy during the run (needs py-spy)")
    args = ap.parse_args()

    with server(args.cluster, args.executor, keep=args.keep, workers=args.workers) as srv:
        token = member_token(srv.url, srv.admin_token)
        submit_many(srv.url, token, args.warmup, args.concurrency, JOB, args.client)
        spy = None
        if args.profile:
            spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "-o", args.profile,
                                    "--pid", str(srv.proc.pid), "--subprocesses", "--rate", "250", "--nonblocking",
                                    *(["--format", "raw"] if args.profile.endswith(".txt") else [])])
            time.sleep(1.0)
        server_cpu, client_cpu = tree_cpu_seconds(srv.proc.pid), time.process_time()
        run = submit_many(srv.url, token, args.jobs, args.concurrency, JOB, args.client)
        server_cpu, client_cpu = tree_cpu_seconds(srv.proc.pid) - server_cpu, time.process_time() - client_cpu
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
    print(f"submit: {len(run.ids)} jobs acknowledged in {run.elapsed:.2f}s from {args.concurrency} connections "
          f"({args.executor} executor, {args.cluster}, SQLite, {args.client} client, "
          f"server --workers {args.workers or 'default'})")
    print(f"  throughput: {run.rate:,.0f} jobs/s")
    print(f"  latency: p50 {pct(run.latencies, 50) * 1000:.1f} ms, p99 {pct(run.latencies, 99) * 1000:.1f} ms, "
          f"mean {statistics.fmean(run.latencies) * 1000:.1f} ms")
    print(f"  CPU during the run: server {server_cpu:.1f}s ({server_cpu / len(run.ids) * 1e3:.2f} ms/job), "
          f"client {client_cpu:.1f}s ({client_cpu / len(run.ids) * 1e3:.2f} ms/job); {os.cpu_count()} cores")
    if run.errors:
        print(f"  errors: {run.errors}")
    if len(set(run.ids)) != len(run.ids):
        print("  DUPLICATE job ids acknowledged!")


if __name__ == "__main__":
    main()
