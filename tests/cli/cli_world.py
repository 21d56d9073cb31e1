"""Helpers for the CLI tests: a real uvicorn server in a background thread (:func:`serve`), a :class:`Cli` that
runs ``gpucloud`` commands against it in this process (the console script's own entry point, stdout and stderr
captured) with its own config file, and :func:`move`, which stands in for the control loop (there is none in
these tests, so jobs stay pending otherwise)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from gpucloud.cli.entry import main as gpucloud_main
from gpucloud.model.job import JobState
from gpucloud.service.settings import Settings
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import PlacedNode
from gpucloud.service.transitions import apply_transition


@dataclass
class Server:
    """The running API: its URL, app, settings and the bootstrap operator's token."""

    url: str
    app: FastAPI
    settings: Settings
    operator_token: str


@dataclass
class Result:
    """What a command did: its exit code and what it printed."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set, restored afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_gpucloud(args: list[str], env: Mapping[str, str]) -> Result:
    """``gpucloud ARGS`` through the console script's entry point, in this process."""
    out, err = io.StringIO(), io.StringIO()
    with environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = gpucloud_main(args)
    return Result(code, out.getvalue(), err.getvalue())


@dataclass
class Cli:
    """Runs ``gpucloud ARGS`` with GPUCLOUD_CONFIG in tmp_path; ``user=NAME`` sends that user's token (and the
    server's URL) through GPUCLOUD_TOKEN / GPUCLOUD_URL, otherwise the config file decides."""

    server: Server
    config: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, user: str | None = None, env: dict[str, str] | None = None) -> Result:
        full_env = {"GPUCLOUD_CONFIG": str(self.config)}
        if user is not None:
            full_env.update(GPUCLOUD_URL=self.server.url, GPUCLOUD_TOKEN=self.tokens[user])
        full_env.update(env or {})
        return run_gpucloud(list(args), full_env)

    def ok(self, *args: str, user: str | None = None) -> Result:
        result = self.run(*args, user=user)
        assert result.exit_code == 0, f"gpucloud {' '.join(args)}: {result.stdout}{result.stderr}"
        return result

    def json(self, *args: str, user: str | None = None) -> Any:
        """Run with ``--json`` (placed before a ``--``) and parse stdout."""
        cut = args.index("--") if "--" in args else len(args)
        return json.loads(self.ok(*args[:cut], "--json", *args[cut:], user=user).stdout)


def serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test API server did not start")
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}"


def move(cli: Cli, job_id: int, *states: JobState, node: str = "b0-r0-n1", gpus: tuple[int, ...] = (2, 3)) -> None:
    """Move a job through ``states`` as the control loop would."""
    with cli.server.app.state.gpucloud.sessions.begin() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        for st in states:
            apply_transition(s, job, st, f"test: {st}", time.time(), placement=[PlacedNode(node, gpus)],
                             gpu_type="H100-80GB", exit_code=0 if st == JobState.SUCCEEDED else None)


def submit(cli: Cli, user: str, *args: str) -> int:
    """Submit as ``user`` and return the printed job id."""
    out = cli.ok("submit", *args, user=user).stdout.strip()
    assert out.isdigit(), out
    return int(out)
