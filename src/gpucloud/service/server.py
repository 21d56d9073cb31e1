"""The server process: the API app, the control loop thread, ``/metrics``, and uvicorn.

:func:`build_server` wires them (tests use it in-process); :func:`serve` runs them until SIGTERM or SIGINT,
then stops the loop cleanly. Jobs keep running when the server stops; the next start re-attaches them.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI

from gpucloud.core.policies import POLICIES
from gpucloud.service import budgets
from gpucloud.service.accounts import load_run_as
from gpucloud.service.api import create_app
from gpucloud.service.api.context import AppContext
from gpucloud.service.datadir import UMASK, protect
from gpucloud.service.executors.base import Executor
from gpucloud.service.executors.registry import create_executor
from gpucloud.service.loop import ControlLoop, LoopConfig
from gpucloud.service.metrics import Metrics
from gpucloud.service.settings import Settings

log = logging.getLogger("gpucloud.server")


@dataclass
class Server:
    app: FastAPI
    ctx: AppContext
    loop: ControlLoop
    metrics: Metrics
    #: the tariff versions stored from ``settings.tariff_file`` at this start
    tariffs_added: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        host = self.ctx.settings.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.ctx.settings.port}"


def build_server(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    executor: Executor | None = None,
    interval_s: float = 0.5,
) -> Server:
    """Migrate the database, build the app, store the tariff file's new versions, build the executor and the
    loop (not started). Raises :class:`gpucloud.errors.GpucloudError` subclasses for a bad cluster file, tariff
    file, executor or policy name."""
    wake: list[Callable[[], None]] = []
    config = loop_config(settings, interval_s)
    POLICIES.get(settings.policy)  # fail before touching the database
    chosen = executor or executor_for(settings)
    app = create_app(settings, clock=clock, on_change=lambda: wake[0]() if wake else None)
    ctx: AppContext = app.state.gpucloud
    protect(settings.data_dir, settings.database_url, config.run_as.mapping)
    added = store_tariff_file(ctx, clock())
    metrics = Metrics(ctx.sessions, lambda: ctx.cluster)
    loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, chosen, engine=ctx.engine, clock=clock, config=config,
                       on_cycle=metrics.observe_tick)
    wake.append(loop.wake)
    metrics.install(app)
    return Server(app, ctx, loop, metrics, added)


def loop_config(settings: Settings, interval_s: float) -> LoopConfig:
    """The control loop's settings; :class:`gpucloud.errors.InputError` for a bad run-as setting."""
    return LoopConfig(policy=settings.policy, interval_s=interval_s,
                      run_as=load_run_as(settings.run_as, settings.run_as_table),
                      log_cap_bytes=settings.log_cap_bytes)


def executor_for(settings: Settings) -> Executor:
    """The executor ``settings.executor`` names, with the options it takes from the settings."""
    options: dict[str, Any] = {}
    if settings.executor == "local":
        options["data_dir"] = settings.data_dir
    elif settings.executor == "ray":
        options.update(address=settings.ray_address, agent_dir=settings.ray_agent_dir)
    return create_executor(settings.executor, **options)


def store_tariff_file(ctx: AppContext, now: float) -> list[str]:
    """Store the versions of ``settings.tariff_file`` not stored yet (none: nothing); their names."""
    if not ctx.settings.tariff_file:
        return []
    with ctx.sessions.begin() as session:
        return [t.name for t in budgets.load_tariff_file(session, ctx.settings.tariff_file, ctx.cluster, now)]


class _Uvicorn(uvicorn.Server):
    """uvicorn, minus re-raising the stop signal after shutdown (so the caller can stop the loop cleanly)."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def banner(url: str, settings: Settings, database: str, token: str | None) -> list[str]:
    """What the server prints when it starts; the operator token only on the very first start."""
    lines = [f"gpucloud server: {url} (API docs: {url}/docs, metrics: {url}/metrics)",
             f"  database: {database}; executor: {settings.executor}; policy: {settings.policy}; "
             f"data: {settings.data_dir}; jobs run as: {settings.run_as}"]
    if settings.run_as == "server" and os.geteuid() == 0:
        lines.append("  warning: jobs run as root, this server's own account; on a machine people share, start it "
                     "with --run-as same-name or --run-as table --run-as-table FILE (docs/security.md)")
    if token is not None:
        lines += ["", "First start: an operator account 'admin' was created. Its token is shown ONCE; store it now:",
                  f"  operator token: {token}", f"  e.g.: gpucloud login --url {url} --token {token}", ""]
    return lines


def serve(settings: Settings, *, interval_s: float = 0.5, say: Callable[[str], Any] = print,
          log_level: str = "warning", workers: int = 1, verbose: bool = False) -> int:
    """Run the server until SIGTERM/SIGINT; the exit status. ``workers`` > 1: that many API processes and one
    control loop process under a supervisor (:mod:`gpucloud.service.workers`); 1: everything in this process."""
    os.umask(UMASK)  # what the server creates is its own (jobs get their files from their keepers)
    if workers > 1:
        from gpucloud.service.workers import supervise

        return supervise(settings, workers=workers, interval_s=interval_s, say=say, log_level=log_level,
                         verbose=verbose)
    server = build_server(settings, interval_s=interval_s)
    for line in banner(server.url, settings, _redact(settings.database_url), server.ctx.bootstrap_token):
        say(line)
    if settings.tariff_file:
        say(f"  tariffs: {settings.tariff_file}: {len(server.tariffs_added)} new version(s) stored")
    server.loop.start()
    server.ctx.forecasts.warm()  # the first start-time forecast, off the request path (docs/forecasts.md)
    config = uvicorn.Config(server.app, host=settings.host, port=settings.port, log_level=log_level,
                            access_log=False, lifespan="off")
    try:
        _Uvicorn(config).run()
    finally:
        server.loop.stop()
        server.ctx.engine.dispose()
        say("gpucloud server stopped (running jobs keep running and are re-attached at the next start)")
    return 0


def _redact(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"
