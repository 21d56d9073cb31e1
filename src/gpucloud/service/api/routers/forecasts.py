"""Start-time forecasts (``docs/forecasts.md``): ``GET /api/v1/jobs/{id}/advice`` (for a pending job, the shapes it
could ask for instead and when each would start and end) and ``POST /api/v1/quotes/start`` (when a job with these
fields would start if submitted now: the submit form's preview). A job's forecast itself is a field of
``GET /jobs/{id}`` and of ``GET /queue?start=true``."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gpucloud.errors import InputError
from gpucloud.model.job import JobState
from gpucloud.service import jobs
from gpucloud.service.api.context import Context
from gpucloud.service.api.forecast_schemas import AdviceOut, advice_out
from gpucloud.service.api.params import Id
from gpucloud.service.api.routers.quotes import JobQuoteIn
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.jobs import SubmitRequest
from gpucloud.service.start_preview import preview_spec

router = APIRouter(tags=["forecasts"])

_NO_FORECAST = "no forecast could be made just now; try again shortly"


class StartPreviewOut(BaseModel):
    start: float | None = Field(description="predicted start if submitted now (epoch seconds); null: not within "
                                "the 90-day horizon")
    run_time_s: float = Field(description="its predicted run time (the median)")
    run_time_basis: str = Field(description="what that prediction is based on, in words")
    made_at: float = Field(description="the time of the queue forecast it was added to")


@router.get("/jobs/{job_id}/advice", response_model=AdviceOut)
def get_advice(job_id: Id, ctx: Context, who: CurrentPrincipal) -> AdviceOut:
    """Alternatives for a pending job you may see: the same GPUs over other node counts, another GPU type (its
    walltime scaled by the speeds), a shorter walltime; each with its predicted start and end. 422 when the job
    is not pending or is held out of scheduling (a dependency, a budget)."""
    with ctx.sessions() as session:
        job = jobs.get_job(session, who, job_id)  # 404 when the caller may not see it
        state = job.state
    if state != JobState.PENDING.value:
        raise InputError("job_id", f"the job is {state}, not pending: no advice", job_id)
    found = ctx.forecasts.advice(job_id)
    if found is None:
        raise InputError("job_id", _NO_FORECAST, job_id)
    fc, options = found
    if options is None:
        raise InputError("job_id", f"the job is held out of scheduling ({fc.held.get(job_id, 'not queued yet')})",
                         job_id)
    return advice_out(job_id, fc.made_at, options)


@router.post("/quotes/start", response_model=StartPreviewOut)
def preview_start(body: JobQuoteIn, ctx: Context, who: CurrentPrincipal) -> StartPreviewOut:
    """When a job with these fields (those of ``POST /quotes/job``) would start if submitted now, as the last
    job of the current queue; 422 naming the field when it could not be submitted as it is."""
    req = SubmitRequest(argv=(), walltime_s=body.walltime, num_gpus=body.num_gpus, nodes=body.nodes,
                        gpu_type=body.gpu_type, priority_class=body.priority, preemptible=body.preemptible,
                        org=body.org, project=body.project, service_class=body.service_class)
    with ctx.sessions() as session:
        spec = preview_spec(session, who, req, ctx.cluster, ctx.clock())
    found = ctx.forecasts.preview(spec)
    if found is None:
        raise InputError("walltime", _NO_FORECAST)
    fc, forecast, run = found
    return StartPreviewOut(start=forecast.start, run_time_s=run.seconds, run_time_basis=run.basis,
                           made_at=fc.made_at)
