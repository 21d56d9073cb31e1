"""``/api/v1/orgs/{org}/quotas``: set and delete (operator); read (operator and the org's admins)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from gpucloud.service.api.context import Context
from gpucloud.service.api.convert import quota_out
from gpucloud.service.api.routers.orgs import visible_org
from gpucloud.service.api.schemas import QuotaOut, QuotaSet
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.store import tenants

router = APIRouter(prefix="/orgs/{org}/quotas", tags=["quotas"])


@router.get("", response_model=list[QuotaOut])
def list_quotas(org: str, ctx: Context, who: CurrentPrincipal) -> list[QuotaOut]:
    with ctx.sessions() as session:
        row = visible_org(session, who, org)
        who.require_manager(row.id)
        return [quota_out(q) for q in tenants.list_quotas(session, row.id)]


@router.put("/{gpu_type}", response_model=QuotaOut)
def set_quota(org: str, gpu_type: str, body: QuotaSet, ctx: Context, who: CurrentPrincipal) -> QuotaOut:
    with ctx.sessions.begin() as session:
        row = visible_org(session, who, org)
        who.require_operator()
        out = quota_out(tenants.set_quota(session, row, gpu_type, body.guaranteed, body.borrow_limit,
                                          ctx.cluster.gpu_types))
    ctx.notify()
    return out


@router.delete("/{gpu_type}", status_code=status.HTTP_204_NO_CONTENT)
def delete_quota(org: str, gpu_type: str, ctx: Context, who: CurrentPrincipal) -> Response:
    with ctx.sessions.begin() as session:
        row = visible_org(session, who, org)
        who.require_operator()
        tenants.delete_quota(session, row, gpu_type)
    ctx.notify()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
