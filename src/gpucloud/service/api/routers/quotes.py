"""``/api/v1/quotes``: price previews before anything is stored. ``POST /quotes/job`` (a submission's fields:
what its project would hold on each GPU type it could get, and the subsidy) and ``POST /quotes/reservation`` (a
reservation request's body: its price and whether the project could pay). See :mod:`gpucloud.service.quotes`."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from gpucloud.model.priority import DEFAULT_PRIORITY_CLASS
from gpucloud.service import quotes
from gpucloud.service import reservations as res
from gpucloud.service.api.context import Context
from gpucloud.service.api.routers.reservations import ReservationIn
from gpucloud.service.api.schemas import Duration
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.jobs import SubmitRequest

router = APIRouter(prefix="/quotes", tags=["money"])


class JobQuoteIn(BaseModel):
    """The fields of a submission that decide its price (``POST /jobs`` takes the same names)."""

    model_config = ConfigDict(extra="forbid")

    num_gpus: int = Field(default=1, ge=1, le=1_000_000)
    nodes: int | None = Field(default=None, ge=1, le=100_000)
    gpu_type: str | None = Field(default=None, min_length=1, max_length=100)
    walltime: Duration = Field(default=3600.0, description="seconds, or e.g. '90s', '30m', '1h30m', '2d'")
    priority: str = Field(default=DEFAULT_PRIORITY_CLASS, max_length=20)
    preemptible: bool = True
    org: str | None = Field(default=None, min_length=1, max_length=100)
    project: str | None = Field(default=None, min_length=1, max_length=100)
    service_class: str = Field(default="standard", max_length=20)
    reservation: str | None = Field(default=None, min_length=1, max_length=100)


class OptionOut(BaseModel):
    gpu_type: str
    service_class: str = Field(description="the class it is priced at (shared for part of one node)")
    rate: str | None = Field(description="points per GPU-hour")
    hold: str | None = Field(description="points held for the full walltime at admission (null: free)")
    subsidy: str = Field(description="the part a subsidy programme would pay")
    project_pays: str | None
    programme: str
    enough: bool = Field(description="the project can cover its part now")
    why: str = Field(description="why not, when it cannot")
    error: str = Field(description="why this GPU type cannot be priced (the tariff lacks it)")


class JobQuoteOut(BaseModel):
    project: str = Field(description="org/project that pays")
    available: str
    tariff: str | None = Field(description="the tariff in force; null: charging is off, jobs are free")
    reserved: bool = Field(description="it runs in a reservation, which has paid for it")
    options: list[OptionOut] = Field(description="one per GPU type it could get")


class ReservationQuoteOut(BaseModel):
    project: str
    gpus: int
    seconds: float
    tariff: str | None
    price: str | None = Field(description="charged when it is approved; null: no tariff, free")
    available: str
    enough: bool


def _s(value: object) -> str | None:
    return None if value is None else str(value)


@router.post("/job", response_model=JobQuoteOut)
def quote_job(body: JobQuoteIn, ctx: Context, who: CurrentPrincipal) -> JobQuoteOut:
    """What submitting these fields would hold now (422 naming the field when they could not be submitted)."""
    req = SubmitRequest(argv=(), walltime_s=body.walltime, num_gpus=body.num_gpus, nodes=body.nodes,
                        gpu_type=body.gpu_type, priority_class=body.priority, preemptible=body.preemptible,
                        org=body.org, project=body.project, service_class=body.service_class,
                        reservation=body.reservation)
    with ctx.sessions() as session:
        q = quotes.quote_job(session, who, req, ctx.cluster, ctx.clock())
    return JobQuoteOut(project=q.project, available=str(q.available), tariff=q.tariff, reserved=q.reserved, options=[
        OptionOut(gpu_type=o.gpu_type, service_class=o.service_class, rate=_s(o.rate), hold=_s(o.hold),
                  subsidy=str(o.subsidy), project_pays=_s(o.project_pays), programme=o.programme, enough=o.enough,
                  why=o.why, error=o.error) for o in q.options])


@router.post("/reservation", response_model=ReservationQuoteOut)
def quote_reservation(body: ReservationIn, ctx: Context, who: CurrentPrincipal) -> ReservationQuoteOut:
    """The price of a reservation request (the body of ``POST /reservations``) at the tariff in force now."""
    req = res.ReservationRequest(body.gpu_type, body.nodes, body.start, body.end, body.name, body.org, body.project,
                                 body.note)
    with ctx.sessions() as session:
        q = res.quote(session, who, req, ctx.cluster, ctx.clock())
    return ReservationQuoteOut(project=q.project, gpus=q.gpus, seconds=q.seconds, tariff=q.tariff, price=_s(q.price),
                               available=str(q.available), enough=q.price is None or q.price <= q.available)
