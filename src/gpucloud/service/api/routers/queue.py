"""``GET /api/v1/queue``: pending jobs with their position in the whole queue and why they wait."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from gpucloud.service import job_search
from gpucloud.service.api.context import Context
from gpucloud.service.api.convert import job_out
from gpucloud.service.api.forecast_schemas import forecast_out
from gpucloud.service.api.params import Offset
from gpucloud.service.api.schemas import QueueEntryOut, QueueOut
from gpucloud.service.api.search_params import SearchFilters
from gpucloud.service.auth import CurrentPrincipal

router = APIRouter(prefix="/queue", tags=["queue"])


@router.get("", response_model=QueueOut)
def get_queue(
    ctx: Context,
    who: CurrentPrincipal,
    filters: Annotated[SearchFilters, Depends()],
    sort: str = Query(default="position", max_length=20, description="position, queued, submitted, name, user, "
                      "org, project, gpus, walltime or priority; - in front for descending"),
    offset: Offset = 0,
    limit: int | None = Query(default=None, ge=1, le=job_search.MAX_PAGE, description="default: every entry"),
    start: bool = Query(default=False, description="add each entry's predicted start (docs/forecasts.md)"),
) -> QueueOut:
    """Operators see every org's entries; everyone else their org's, narrowed by the filters. ``job.reason``
    says why each one waits; ``total_pending`` counts the whole queue, ``total`` the entries that match."""
    now = ctx.clock()
    with ctx.sessions() as session:
        page = job_search.queue_page(session, who, filters.of(), sort, offset, limit)
        fc = ctx.forecasts.current([e.job.id for e in page.items]) if start else None
        return QueueOut(total_pending=page.total_pending, total=page.total,
                        items=[QueueEntryOut(position=e.position, job=job_out(e.job, now),
                                             forecast=None if fc is None else forecast_out(fc, e.job.id))
                               for e in page.items])
