"""``/api/v1/orgs/{org}/projects``: list (the org's users), create (operator or the org's admins)."""

from __future__ import annotations

from fastapi import APIRouter, status

from gpucloud.service.api.context import Context
from gpucloud.service.api.convert import project_out
from gpucloud.service.api.routers.orgs import visible_org
from gpucloud.service.api.schemas import ProjectCreate, ProjectOut
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.store import tenants

router = APIRouter(prefix="/orgs/{org}/projects", tags=["projects"])


@router.get("", response_model=list[ProjectOut])
def list_projects(org: str, ctx: Context, who: CurrentPrincipal) -> list[ProjectOut]:
    with ctx.sessions() as session:
        row = visible_org(session, who, org)
        return [project_out(p) for p in tenants.list_projects(session, row.id)]


@router.post("", response_model=ProjectOut, status_code=status.HTTP_201_CREATED)
def create_project(org: str, body: ProjectCreate, ctx: Context, who: CurrentPrincipal) -> ProjectOut:
    with ctx.sessions.begin() as session:
        row = visible_org(session, who, org)
        who.require_manager(row.id)
        return project_out(tenants.create_project(session, row, body.name, ctx.clock()))
