"""``GET /api/v1/queue``: pending jobs with their position in the whole queue and why they wait."""

from __future__ import annotations

from fastapi import APIRouter

from gpucloud.service import jobs
from gpucloud.service.api.context import Context
from gpucloud.service.api.convert import job_out
from gpucloud.service.api.schemas import QueueEntryOut, QueueOut
from gpucloud.service.auth import CurrentPrincipal

router = APIRouter(prefix="/queue", tags=["queue"])


@router.get("", response_model=QueueOut)
def get_queue(ctx: Context, who: CurrentPrincipal, org: str | None = None) -> QueueOut:
    """Operators see every org's entries (or ``?org=``); everyone else their org's. ``job.reason`` says why
    each one waits; ``total_pending`` counts the whole queue."""
    with ctx.sessions() as session:
        entries, total = jobs.queue(session, who, org)
        return QueueOut(total_pending=total,
                        items=[QueueEntryOut(position=e.position, job=job_out(e.job)) for e in entries])
