"""``GET /api/v1/me``: who the token belongs to."""

from __future__ import annotations

from fastapi import APIRouter

from gpucloud.service.api.schemas import MeOut
from gpucloud.service.auth import CurrentPrincipal

router = APIRouter(tags=["me"])


@router.get("/me", response_model=MeOut)
def me(who: CurrentPrincipal) -> MeOut:
    return MeOut.model_validate({"id": who.user_id, "name": who.name, "role": who.role, "org": who.org})
