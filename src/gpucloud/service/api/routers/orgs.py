"""``/api/v1/orgs``: create (operator), list, read, change the fair-share weight or the kind (operator)."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from gpucloud.service.api.context import Context
from gpucloud.service.api.schemas import OrgCreate, OrgOut, OrgUpdate
from gpucloud.service.auth import CurrentPrincipal, Principal
from gpucloud.service.store import tenants
from gpucloud.service.store.errors import NotFound
from gpucloud.service.store.models import OrgRow

router = APIRouter(prefix="/orgs", tags=["orgs"])


def visible_org(session: Session, who: Principal, name: str) -> OrgRow:
    """The org if the caller may see it (operators: any; others: their own), else 404."""
    org = tenants.find_org(session, name)
    if org is None or not who.sees_org(org.id):
        raise NotFound("org", name)
    return org


@router.post("", response_model=OrgOut, status_code=status.HTTP_201_CREATED)
def create_org(body: OrgCreate, ctx: Context, who: CurrentPrincipal) -> OrgOut:
    who.require_operator()
    with ctx.sessions.begin() as session:
        org = tenants.create_org(session, body.name, body.weight, ctx.clock(), body.kind)
        out = OrgOut.model_validate(org)
    ctx.notify()
    return out


@router.get("", response_model=list[OrgOut])
def list_orgs(ctx: Context, who: CurrentPrincipal) -> list[OrgOut]:
    """Operators: every org; everyone else: their own."""
    with ctx.sessions() as session:
        return [OrgOut.model_validate(o) for o in tenants.list_orgs(session) if who.sees_org(o.id)]


@router.get("/{org}", response_model=OrgOut)
def get_org(org: str, ctx: Context, who: CurrentPrincipal) -> OrgOut:
    with ctx.sessions() as session:
        return OrgOut.model_validate(visible_org(session, who, org))


@router.patch("/{org}", response_model=OrgOut)
def update_org(org: str, body: OrgUpdate, ctx: Context, who: CurrentPrincipal) -> OrgOut:
    with ctx.sessions.begin() as session:
        visible_org(session, who, org)
        who.require_operator()
        out = OrgOut.model_validate(tenants.update_org(session, org, body.weight, body.kind))
    ctx.notify()
    return out
