"""``/api/v1/jobs``: submit, list, get with events, cancel, logs."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gpucloud.errors import InputError
from gpucloud.model.job import JobState
from gpucloud.service import budgets, jobs
from gpucloud.service.api.context import AppContext, Context
from gpucloud.service.api.convert import job_detail, job_out
from gpucloud.service.api.schemas import JobDetail, JobOut, JobPageOut, JobSubmit, LogOut, SubmitOut
from gpucloud.service.auth import CurrentPrincipal, Forbidden, Principal
from gpucloud.service.store.errors import NotFound
from gpucloud.service.store.models import JobRow
from gpucloud.service.submitter import prepare, response_fields

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.post("", response_model=SubmitOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "an earlier submit with the same idempotency key", "model": SubmitOut}})
async def submit_job(body: JobSubmit, ctx: Context, who: CurrentPrincipal) -> Response:
    """Validated from memory (cluster, cached orgs and projects), then stored by the group-commit writer
    together with the submissions arriving at the same time; answered only after the commit."""
    req = jobs.SubmitRequest(
        argv=tuple(body.argv), walltime_s=body.walltime, num_gpus=body.num_gpus, nodes=body.nodes,
        gpu_type=body.gpu_type, name=body.name, env=body.env, cwd=body.cwd, priority_class=body.priority,
        preemptible=body.preemptible, grace_s=body.grace, org=body.org, project=body.project,
        idempotency_key=body.idempotency_key, service_class=body.service_class,
        reservation=body.reservation,
    )
    now = ctx.clock()
    try:
        if ctx.tenants.warm(who, req):
            prepared = prepare(ctx.tenants, who, req, ctx.cluster, now)
        else:
            prepared = await run_in_threadpool(prepare, ctx.tenants, who, req, ctx.cluster, now)
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


def _job_response(ctx: AppContext, who: Principal, job_id: int) -> Response:
    """The ``200`` answer for a submission that found an earlier job with its idempotency key."""
    with ctx.sessions() as session:
        job = session.get(JobRow, job_id)
        assert job is not None
        out = SubmitOut.model_validate({**job_out(job).model_dump(), "created": False})
    return _json(out.model_dump(mode="json"), status.HTTP_200_OK)


def _existing(ctx: AppContext, who: Principal, key: str) -> Response | None:
    with ctx.sessions() as session:
        job_id = session.scalar(select(JobRow.id).where(JobRow.user_id == who.user_id, JobRow.idempotency_key == key))
    return None if job_id is None else _job_response(ctx, who, job_id)


@router.get("", response_model=JobPageOut)
def list_jobs(
    ctx: Context,
    who: CurrentPrincipal,
    state: JobState | None = None,
    org: str | None = None,
    user: str | None = None,
    limit: int = Query(default=100, ge=1, le=jobs.MAX_PAGE),
    cursor: int | None = Query(default=None, ge=1, description="next_cursor from the previous page"),
) -> JobPageOut:
    """Jobs the caller may see, newest first."""
    flt = jobs.JobFilter(state=state, org=org, user=user, limit=limit, cursor=cursor)
    with ctx.sessions() as session:
        page = jobs.list_jobs(session, who, flt)
        return JobPageOut(items=[job_out(j) for j in page.items], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobDetail)
def get_job(job_id: int, ctx: Context, who: CurrentPrincipal) -> JobDetail:
    with ctx.sessions() as session:
        job = jobs.get_job(session, who, job_id)
        out = job_detail(job, jobs.job_events(session, job_id))
        estimated, final = budgets.job_costs(session, job_id)
        out.estimated_cost = None if estimated is None else str(estimated)
        out.final_cost = None if final is None else str(final)
        return out


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: int, ctx: Context, who: CurrentPrincipal) -> JobOut:
    """A pending job is cancelled at once; a running one is stopped by the control loop (cancel_requested)."""
    with ctx.sessions.begin() as session:
        out = job_out(jobs.cancel_job(session, who, job_id, ctx.clock()))
    ctx.notify()
    return out


@router.get("/{job_id}/logs", response_model=LogOut)
def get_logs(
    job_id: int,
    ctx: Context,
    who: CurrentPrincipal,
    stream: Literal["stdout", "stderr"] = "stdout",
    offset: int = Query(default=0, ge=0),
    limit: int = Query(default=65536, ge=1, le=4 * 1024 * 1024),
) -> LogOut:
    """Page through a log: read from ``offset`` and continue from ``next_offset``."""
    with ctx.sessions() as session:
        ended = JobState(jobs.get_job(session, who, job_id).state).terminal
    chunk = jobs.read_log(ctx.settings.data_dir, job_id, stream, offset, limit)
    return LogOut(stream=stream, text=chunk.text, offset=chunk.offset, next_offset=chunk.next_offset,
                  size=chunk.size, done=ended and chunk.next_offset >= chunk.size)
