"""What the API's routers share: settings, the database, the clock, the current cluster, the change hook."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import load_cluster
from gpucloud.model.limits import CommandLimits
from gpucloud.service.auth import TokenCache
from gpucloud.service.forecasts import Forecaster
from gpucloud.service.settings import Settings
from gpucloud.service.store.engine import bump_version
from gpucloud.service.submitter import GroupCommitter, TenantCache


@dataclass
class AppContext:
    """Held in ``app.state.gpucloud``. The control loop reads ``cluster`` (replaced on reload) and shares
    ``sessions``; ``notify()`` calls the ``on_change`` hook given to ``create_app``."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Callable[[], float]
    cluster: Cluster
    on_change: Callable[[], None] | None = None
    #: The operator token created on the very first start (None on later starts); the server prints it.
    bootstrap_token: str | None = None
    #: Counts a submission's answer by HTTP status (``/metrics``); the fast path calls it for what it answers.
    count_submit: Callable[[int], None] | None = None
    #: Called after an API-initiated cluster reload (``gpucloud server --workers N``: tell the other processes).
    on_reload: Callable[[], None] | None = None
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    token_cache: TokenCache = field(default_factory=TokenCache, repr=False)
    tenants: TenantCache = field(init=False, repr=False)
    committer: GroupCommitter = field(init=False, repr=False)
    #: what a job's command may hold (from the settings)
    command_limits: CommandLimits = field(init=False, repr=False)
    #: start-time forecasts of the queue, cached (``service/forecasts.py``)
    forecasts: Forecaster = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.command_limits = self.settings.command_limits()
        self.tenants = TenantCache(self.sessions)
        self.committer = GroupCommitter(self.sessions, on_commit=self.notify)
        self.forecasts = Forecaster(self.sessions, lambda: self.cluster, self.settings.policy, self.clock)

    def notify(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def reload_cluster(self, *, announce: bool = True) -> Cluster:
        """Load ``settings.cluster_file`` again; raises :class:`gpucloud.errors.InputError` if it is invalid
        (the old cluster stays). Bumps the scheduler version and notifies the loop, and the other processes of
        a ``--workers N`` server through ``on_reload`` (``announce=False``: this process only, no bump: it
        follows a reload another process announced)."""
        with self._reload_lock:
            cluster = load_cluster(self.settings.cluster_file)
            if announce:
                with self.sessions.begin() as session:
                    bump_version(session)
            self.cluster = cluster
        if announce:
            if self.on_reload is not None:
                self.on_reload()
            self.notify()
        return cluster


async def get_context(request: Request) -> AppContext:
    """Async: FastAPI runs a plain function dependency in a worker thread, which costs more than this."""
    ctx: AppContext = request.app.state.gpucloud
    return ctx


Context = Annotated[AppContext, Depends(get_context)]
