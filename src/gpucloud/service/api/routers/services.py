"""``/api/v1/services``: create, list, show, scale and delete services (operators and the org's admins manage them;
members of the org see them). See :mod:`gpucloud.service.services` and docs/services.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field, ValidationError

from gpucloud.model.demand import MAX_REPLICAS, wanted
from gpucloud.model.service import MAX_LEAD, MAX_SITES
from gpucloud.model.service_file import DemandIn, ServiceIn
from gpucloud.model.validation import input_error
from gpucloud.service import services as svc
from gpucloud.service.api.context import AppContext, Context
from gpucloud.service.api.schemas import RequestBody
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.store.models import ServiceRow

router = APIRouter(prefix="/services", tags=["services"])

Name = Annotated[str, Path(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class ServiceCreate(RequestBody):
    name: str = Field(min_length=1, max_length=63)
    cls: Literal["ran", "inference"] = Field(alias="class", description="ran or inference")
    gpus_per_replica: int = Field(ge=1, le=1024)
    gpu_type: str = Field(min_length=1, max_length=100)
    sites: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=MAX_SITES)
    lead_s: float = Field(default=0.0, ge=0, le=MAX_LEAD, description="start replicas this long before needed")
    demand: DemandIn
    argv: list[str] = Field(min_length=1, description="each replica's program and its arguments")
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str = Field(default="")
    grace_s: float = Field(default=10.0, ge=0, le=MAX_LEAD, description="seconds between SIGTERM and SIGKILL")
    org: str | None = Field(default=None, min_length=1, max_length=100, description="operators: the org")
    project: str | None = Field(default=None, min_length=1, max_length=100)


class ScaleIn(RequestBody):
    replicas: int = Field(ge=0, le=MAX_REPLICAS)


class ServiceOut(BaseModel):
    name: str
    org: str
    project: str
    owner: str
    cls: str = Field(serialization_alias="class")
    gpus_per_replica: int
    gpu_type: str
    sites: list[str]
    lead_s: float
    grace_s: float
    demand: dict[str, Any]
    wanted: int | None = Field(description="replicas the demand wants now (ramp-up included); null if the "
                                           "cluster no longer fits the service")
    replicas: int = Field(description="replicas holding GPUs now")
    argv: list[str]
    created_at: float
    updated_at: float


def out(row: ServiceRow, ctx: AppContext, counts: dict[int, int], now: float) -> ServiceOut:
    try:
        spec = svc.spec_of(row, ctx.cluster)
        want: int | None = wanted(spec.demand, now, spec.lead)
    except ValueError:
        want = None
    return ServiceOut(name=row.name, org=row.org.name, project=row.project.name, owner=row.user.name, cls=row.cls,
                      gpus_per_replica=row.gpus_per_replica, gpu_type=row.gpu_type, sites=list(row.sites),
                      lead_s=row.lead_s, grace_s=row.grace_s, demand=dict(row.demand), wanted=want,
                      replicas=counts.get(row.id, 0), argv=[str(a) for a in row.argv], created_at=row.created_at,
                      updated_at=row.updated_at)


@router.get("", response_model=list[ServiceOut], response_model_by_alias=True)
def list_services(ctx: Context, who: CurrentPrincipal) -> list[ServiceOut]:
    now = ctx.clock()
    with ctx.sessions() as session:
        counts = svc.replica_counts(session)
        return [out(r, ctx, counts, now) for r in svc.visible(session, who)]


@router.post("", response_model=ServiceOut, status_code=status.HTTP_201_CREATED, response_model_by_alias=True)
def create_service(body: ServiceCreate, ctx: Context, who: CurrentPrincipal) -> ServiceOut:
    """A service whose replicas follow ``demand`` (422 naming the field for bad sites, GPU type or demand)."""
    now = ctx.clock()
    try:
        service = ServiceIn.model_validate({
            "name": body.name, "class": body.cls, "gpus_per_replica": body.gpus_per_replica,
            "gpu_type": body.gpu_type, "sites": body.sites, "lead_s": body.lead_s, "demand": body.demand})
    except ValidationError as exc:
        raise input_error(exc, "") from None
    req = svc.ServiceRequest(service, body.argv, body.env, body.cwd, body.grace_s, body.org, body.project)
    with ctx.sessions.begin() as session:
        row = svc.create(session, who, req, ctx.cluster, ctx.command_limits, now)
        result = out(row, ctx, {}, now)
    ctx.notify()
    return result


@router.get("/{name}", response_model=ServiceOut, response_model_by_alias=True)
def get_service(name: Name, ctx: Context, who: CurrentPrincipal) -> ServiceOut:
    with ctx.sessions() as session:
        return out(svc.get(session, who, name), ctx, svc.replica_counts(session), ctx.clock())


@router.post("/{name}/scale", response_model=ServiceOut, response_model_by_alias=True)
def scale_service(name: Name, body: ScaleIn, ctx: Context, who: CurrentPrincipal) -> ServiceOut:
    """Push a replica count: the demand becomes that fixed value."""
    now = ctx.clock()
    with ctx.sessions.begin() as session:
        row = svc.scale(session, who, name, body.replicas, now)
        result = out(row, ctx, svc.replica_counts(session), now)
    ctx.notify()
    return result


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_service(name: Name, ctx: Context, who: CurrentPrincipal) -> None:
    """Delete a service; its replicas are stopped."""
    with ctx.sessions.begin() as session:
        svc.delete(session, who, name)
    ctx.notify()
