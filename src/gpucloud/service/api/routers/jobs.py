"""``/api/v1/jobs``: submit, list, get with events, cancel, logs."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gpucloud.errors import InputError
from gpucloud.model.job import JobState
from gpucloud.service import batch_submit, budgets, job_search, jobs, logs
from gpucloud.service.api.context import AppContext, Context
from gpucloud.service.api.convert import job_detail, job_out, with_costs
from gpucloud.service.api.forecast_schemas import forecast_out
from gpucloud.service.api.params import ByteOffset, Id, Offset
from gpucloud.service.api.schemas import JobDetail, JobOut, JobPageOut, JobSubmit, LogOut, SubmitOut
from gpucloud.service.api.search_params import SearchFilters
from gpucloud.service.api.submission import submit_request
from gpucloud.service.auth import CurrentPrincipal, Forbidden, Principal
from gpucloud.service.jobs import SubmitRequest
from gpucloud.service.store.errors import NotFound
from gpucloud.service.store.models import JobRow
from gpucloud.service.submitter import prepare, response_fields

router = APIRouter(prefix="/jobs", tags=["jobs"])

#: the largest rank a log request may name (a gang of this many nodes is far beyond any cluster)
MAX_RANK = 100_000


@router.post("", response_model=SubmitOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "an earlier submit with the same idempotency key", "model": SubmitOut}})
async def submit_job(body: JobSubmit, ctx: Context, who: CurrentPrincipal) -> Response:
    """Validated from memory (cluster, cached orgs and projects), then stored by the group-commit writer
    together with the submissions arriving at the same time; answered only after the commit."""
    req = submit_request(body)
    now = ctx.clock()
    if req.array is not None or req.dependency is not None:  # many jobs, or references to look up
        return await run_in_threadpool(_submit_batch, ctx, who, req, now)
    try:
        if ctx.tenants.warm(who, req):
            prepared = prepare(ctx.tenants, who, req, ctx.cluster, ctx.command_limits, now)
        else:
            prepared = await run_in_threadpool(prepare, ctx.tenants, who, req, ctx.cluster, ctx.command_limits, now)
    except (InputError, Forbidden, NotFound):
        if req.idempotency_key is None:
            raise
        existing = await run_in_threadpool(_existing, ctx, who, req.idempotency_key)
        if existing is None:
            raise
        return existing  # an earlier submit with this key wins, as before validation
    try:
        done = await ctx.committer.submit_async(prepared)
    except IntegrityError:  # another server replica stored the same idempotency key meanwhile
        if req.idempotency_key is None:
            raise
        existing = await run_in_threadpool(_existing, ctx, who, req.idempotency_key)
        if existing is None:
            raise
        return existing
    if not done.created:
        return await run_in_threadpool(_job_response, ctx, who, done.job_id)
    return _json(response_fields(prepared, done.job_id), status.HTTP_201_CREATED)


def _json(content: dict[str, Any], status_code: int) -> Response:
    body = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status_code, media_type="application/json")


def _job_response(ctx: AppContext, who: Principal, job_id: int, created: bool = False) -> Response:
    """The answer for a job just created (``201``), or for a submission that found an earlier job with its
    idempotency key (``200``)."""
    with ctx.sessions() as session:
        job = session.get(JobRow, job_id)
        assert job is not None
        out = SubmitOut.model_validate({**job_out(job, ctx.clock()).model_dump(), "created": created})
    return _json(out.model_dump(mode="json"), status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _submit_batch(ctx: AppContext, who: Principal, req: SubmitRequest, now: float) -> Response:
    """A job array or a job with a dependency (:mod:`gpucloud.service.batch_submit`); the array's first task."""
    done = batch_submit.submit_batch(ctx.sessions, ctx.tenants, who, req, ctx.cluster, ctx.command_limits, now)
    if done.created:
        ctx.notify()
    return _job_response(ctx, who, done.job_id, done.created)


def _existing(ctx: AppContext, who: Principal, key: str) -> Response | None:
    with ctx.sessions() as session:
        job_id = session.scalar(select(JobRow.id).where(JobRow.user_id == who.user_id, JobRow.idempotency_key == key))
    return None if job_id is None else _job_response(ctx, who, job_id)


@router.get("", response_model=JobPageOut)
def list_jobs(
    ctx: Context,
    who: CurrentPrincipal,
    filters: Annotated[SearchFilters, Depends()],
    state: list[JobState] | None = Query(default=None, description="one or more (repeat the parameter)"),
    sort: str = Query(default="-id", max_length=20, description="id, submitted, name, state, user, org, project, "
                      "gpus, walltime, priority, started or ended; - in front for descending"),
    offset: Offset | None = Query(default=None, description="page by offset (the answer counts every match)"),
    limit: int = Query(default=100, ge=1, le=job_search.MAX_PAGE),
    cursor: Id | None = Query(default=None, description="next_cursor from the previous page"),
) -> JobPageOut:
    """Jobs the caller may see, newest first unless ``sort`` says otherwise, narrowed by the filters; each with
    what it cost."""
    query = job_search.JobQuery(filters.of(states=state or ()), sort=sort, limit=limit, offset=offset,
                                cursor=cursor)
    now = ctx.clock()
    with ctx.sessions() as session:
        page = job_search.search_jobs(session, who, query)
        costs = budgets.jobs_costs(session, {j.id: j.run_count for j in page.items})
        items = [with_costs(job_out(j, now), costs.get(j.id)) for j in page.items]
        return JobPageOut(items=items, next_cursor=page.next_cursor, total=page.total)


@router.get("/{job_id}", response_model=JobDetail)
def get_job(job_id: Id, ctx: Context, who: CurrentPrincipal) -> JobDetail:
    with ctx.sessions() as session:
        job = jobs.get_job(session, who, job_id)
        out = with_costs(job_detail(job, jobs.job_events(session, job_id), ctx.clock()),
                         budgets.jobs_costs(session, {job.id: job.run_count}).get(job.id))
    fc = ctx.forecasts.current([job_id]) if out.state == JobState.PENDING else None
    if fc is not None:  # its predicted start (docs/forecasts.md)
        out.forecast = forecast_out(fc, job_id)
    return out


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: Id, ctx: Context, who: CurrentPrincipal) -> JobOut:
    """A pending job is cancelled at once; a running one is stopped by the control loop (cancel_requested)."""
    with ctx.sessions.begin() as session:
        out = job_out(jobs.cancel_job(session, who, job_id, ctx.clock()), ctx.clock())
    ctx.notify()
    return out


@router.get("/{job_id}/logs", response_model=LogOut)
def get_logs(
    job_id: Id,
    ctx: Context,
    who: CurrentPrincipal,
    stream: Literal["stdout", "stderr"] = "stdout",
    rank: int = Query(default=0, ge=0, le=MAX_RANK, description="the rank (node of the gang) whose output to read"),
    offset: ByteOffset = 0,
    limit: int = Query(default=65536, ge=1, le=4 * 1024 * 1024),
) -> LogOut:
    """Page through a rank's log as copied into the database (readable from any replica; a running job's lags
    about a second): read from ``offset`` and continue from ``next_offset``. ``done``: the job ended and all of
    its log is here."""
    with ctx.sessions() as session:
        job = jobs.get_job(session, who, job_id)
        ranks = len(job.placement) if job.placement else None
        if ranks is not None and rank >= ranks:
            raise InputError("rank", f"job {job_id} has {ranks} rank(s): 0..{ranks - 1}", rank)
        ended = JobState(job.state).terminal
        chunk = logs.read_log(session, job_id, rank, stream, offset, limit)
    return LogOut(stream=stream, text=chunk.text, offset=chunk.offset, next_offset=chunk.next_offset,
                  size=chunk.size, done=ended and chunk.next_offset >= chunk.size)
