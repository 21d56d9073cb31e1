"""``POST /api/v1/jobs/cancel``: cancel many jobs in one request, as ``scancel`` does (by id, array task, name,
user, project, state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gpucloud.model.job import JobState
from gpucloud.service.api.context import Context
from gpucloud.service.api.schemas import RequestBody, Text
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.bulk_cancel import MAX_REFS, Selection, cancel_jobs

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobRef = Annotated[Text, Field(min_length=1, max_length=1000)]


class CancelMany(RequestBody):
    """At least one of the fields. ``jobs``: ids (an array's id: all its tasks), ``12_3`` (a task), ``12_[1-5]``."""

    jobs: list[JobRef] = Field(default_factory=list, max_length=MAX_REFS)
    name: Text | None = Field(default=None, min_length=1, max_length=200, description="jobs of exactly this name")
    user: Text | None = Field(default=None, min_length=1, max_length=100)
    project: Text | None = Field(default=None, min_length=1, max_length=100)
    states: list[JobState] = Field(default_factory=list, max_length=len(JobState))


class CancelledOut(BaseModel):
    cancelled: list[int] = Field(description="pending jobs cancelled now")
    requested: list[int] = Field(description="jobs holding GPUs that the control loop now stops")
    ended: list[int] = Field(description="named jobs that had already ended")
    not_found: list[str] = Field(description="references that match no job you may see")


@router.post("/cancel", response_model=CancelledOut)
def cancel_many(body: CancelMany, ctx: Context, who: CurrentPrincipal) -> CancelledOut:
    """Cancel every job that matches (all filters together) and that you may see; without ``jobs``, only jobs
    that have not ended are looked at."""
    sel = Selection(tuple(body.jobs), body.name, body.user, body.project, tuple(body.states))
    with ctx.sessions.begin() as session:
        out = cancel_jobs(session, who, sel, ctx.clock())
    if out.cancelled or out.requested:
        ctx.notify()
    return CancelledOut(cancelled=out.cancelled, requested=out.requested, ended=out.ended, not_found=out.not_found)
