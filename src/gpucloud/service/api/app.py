"""The FastAPI application factory: :func:`create_app`."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from gpucloud import __version__
from gpucloud.model.cluster_file import load_cluster
from gpucloud.service.api.context import AppContext
from gpucloud.service.api.errors import install_error_handlers
from gpucloud.service.api.fastsubmit import FastSubmit
from gpucloud.service.api.routers import (
    budgets,
    cluster,
    health,
    jobs,
    me,
    orgs,
    programmes,
    projects,
    queue,
    quotas,
    reservations,
    tokens,
    users,
)
from gpucloud.service.api.schemas import ErrorOut, ValidationErrorOut
from gpucloud.service.auth import ensure_operator
from gpucloud.service.settings import Settings
from gpucloud.service.store.engine import make_engine, make_sessionmaker
from gpucloud.service.store.migrate import upgrade_engine
from gpucloud.web import mount_dashboard

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    on_change: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the API: migrate the database to the newest schema, load the cluster file, create the first
    operator if there is none (its token is in ``app.state.gpucloud.bootstrap_token``), and mount the routers.

    ``on_change`` is called after every commit the control loop should react to at once (submit, cancel,
    quota and org changes, cluster reload). ``clock`` gives the times stored on jobs and events.
    Raises :class:`gpucloud.errors.InputError` if the cluster file is invalid.
    """
    topology = load_cluster(settings.cluster_file)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade_engine(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        token = ensure_operator(session, clock())
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions, clock=clock, cluster=topology,
                     on_change=on_change, bootstrap_token=token)

    app = FastAPI(
        title="gpucloud",
        version=__version__,
        description="The control plane of a GPU cloud: jobs, queue, cluster, orgs, users, tokens, quotas.",
        responses={401: {"model": ErrorOut}, 422: {"model": ValidationErrorOut}},
    )
    app.state.gpucloud = ctx
    app.state.sessions = sessions
    app.state.token_cache = ctx.token_cache
    install_error_handlers(app)
    # The hot path of POST /api/v1/jobs sits in front of the whole middleware stack (ServerErrorMiddleware,
    # body limit, exception handling, routing); everything else passes through to the stack unchanged.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: FastSubmit(build_stack(), ctx)  # type: ignore[method-assign]
    app.include_router(health.router)
    api = APIRouter(prefix=API_PREFIX)
    for module in (me, cluster, orgs, projects, users, tokens, quotas, jobs, queue, budgets, programmes,
                   reservations):
        api.include_router(module.router)
    app.include_router(api)
    mount_dashboard(app)  # the dashboard: / and /static/ (src/gpucloud/web)
    return app
