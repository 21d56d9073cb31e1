"""``GET /healthz``: liveness and the schema revision (no auth)."""

from __future__ import annotations

from fastapi import APIRouter

from gpucloud import __version__
from gpucloud.service.api.context import Context
from gpucloud.service.api.schemas import HealthOut
from gpucloud.service.store.migrate import current_revision

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz(ctx: Context) -> HealthOut:
    return HealthOut(status="ok", version=__version__, schema_revision=current_revision(ctx.engine))
