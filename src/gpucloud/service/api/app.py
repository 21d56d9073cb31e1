"""The FastAPI application factory: :func:`create_app`."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter, Depends, FastAPI

from gpucloud import __version__
from gpucloud.model.cluster_file import load_cluster
from gpucloud.service.api.bodylimit import BodyLimit, Scope
from gpucloud.service.api.context import AppContext
from gpucloud.service.api.errors import install_error_handlers
from gpucloud.service.api.fastsubmit import SUBMIT_PATH, FastSubmit
from gpucloud.service.api.inputguard import check_input
from gpucloud.service.api.routers import (
    budgets,
    cluster,
    fairshare,
    forecasts,
    health,
    job_cancel,
    jobs,
    me,
    orgs,
    programmes,
    projects,
    queue,
    quotas,
    quotes,
    reservations,
    services,
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
        responses={**{code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413)},
                   422: {"model": ValidationErrorOut}},
    )
    app.state.gpucloud = ctx
    app.state.sessions = sessions
    app.state.token_cache = ctx.token_cache
    install_error_handlers(app)
    # The request size limit comes first, then the hot path of POST /api/v1/jobs, in front of the whole
    # middleware stack (ServerErrorMiddleware, exception handling, routing); everything else passes through to
    # the stack unchanged.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: BodyLimit(  # type: ignore[method-assign]
        FastSubmit(build_stack(), ctx), settings.max_request_bytes, on_refused=lambda scope: _refused(ctx, scope))
    app.include_router(health.router)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(check_input)])
    for module in (me, cluster, orgs, projects, users, tokens, quotas, fairshare, job_cancel, jobs, forecasts, queue,
                   budgets, programmes, reservations, quotes, services):
        api.include_router(module.router)
    app.include_router(api)
    mount_dashboard(app)  # the dashboard: / and /static/ (src/gpucloud/web)
    return app


def _refused(ctx: AppContext, scope: Scope) -> None:
    """A body over the limit: a rejected submission when it was one (``/metrics`` counts them)."""
    if scope["method"] == "POST" and scope["path"] == SUBMIT_PATH and ctx.count_submit is not None:
        ctx.count_submit(413)
