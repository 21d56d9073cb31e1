"""The API's view of start-time forecasts and shape advice (``docs/forecasts.md``), and the conversions from the
service's cache (:mod:`gpucloud.service.forecasts`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from gpucloud.core.forecast.advice import ShapeOption
from gpucloud.core.forecast.queue import JobForecast, waits_for

if TYPE_CHECKING:
    from gpucloud.service.forecasts import QueueForecast


class StartForecastOut(BaseModel):
    """When a pending job is predicted to start, the range, and what it waits for."""

    start: float | None = Field(description="predicted start (epoch seconds); null: not within the 90-day horizon "
                                "or held out of scheduling")
    earliest: float | None = Field(description="start if the jobs ahead run short (their p10 run times)")
    latest: float | None = Field(description="start if they run long (p90); null: beyond the horizon")
    waits_for: str = Field(description="what the job waits for now, in words; empty when it starts now")
    blocked_by: int | None = Field(description="the queue's head job it waits behind, if any")
    made_at: float = Field(description="when the forecast was computed")
    run_time_s: float | None = Field(default=None, description="the job's own predicted run time (the median)")
    run_time_basis: str = Field(default="", description="what that prediction is based on, in words")


class ShapeOptionOut(BaseModel):
    label: str
    num_gpus: int
    nodes: int | None
    gpu_type: str | None
    walltime_s: float
    start: float | None = Field(description="predicted start; null: not within the horizon")
    end: float | None = Field(description="predicted end (start + the predicted run time on that GPU type)")
    current: bool = Field(description="the job's own request")


class AdviceOut(BaseModel):
    job_id: int
    made_at: float
    options: list[ShapeOptionOut] = Field(description="earliest predicted end first")


def forecast_out(fc: QueueForecast, job_id: int) -> StartForecastOut | None:
    """The forecast of ``job_id`` (None when it is not pending in the forecast)."""
    f: JobForecast | None = fc.jobs.get(job_id)
    if f is None:
        held = fc.held.get(job_id)
        if held is None:
            return None
        return StartForecastOut(start=None, earliest=None, latest=None, waits_for=held, blocked_by=None,
                                made_at=fc.made_at)
    run = fc.runs.get(job_id)
    return StartForecastOut(start=f.start, earliest=f.earliest, latest=f.latest, waits_for=waits_for(f),
                            blocked_by=None if f.blocked_by is None else int(f.blocked_by), made_at=fc.made_at,
                            run_time_s=None if run is None else run.seconds,
                            run_time_basis="" if run is None else run.basis)


def advice_out(job_id: int, made_at: float, options: list[ShapeOption]) -> AdviceOut:
    return AdviceOut(job_id=job_id, made_at=made_at, options=[ShapeOptionOut(
        label=o.label, num_gpus=o.num_gpus, nodes=o.nodes, gpu_type=o.gpu_type, walltime_s=o.walltime,
        start=o.start, end=o.end, current=o.current) for o in options])
