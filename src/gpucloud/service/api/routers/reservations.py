"""``/api/v1/reservations``: request, approve, reject, cancel and list reservations, and the free capacity for a
window. Org-admins request and cancel for their org, operators approve (or the automatic rule does); members
see their org's. See :mod:`gpucloud.service.reservations` and docs/reservations.md."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, BeforeValidator, Field

from gpucloud.service import reservations as res
from gpucloud.service.api.context import AppContext, Context
from gpucloud.service.api.params import Id
from gpucloud.service.api.schemas import RequestBody
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.store.models import ReservationRow
from gpucloud.times import parse_time, time_input

router = APIRouter(prefix="/reservations", tags=["reservations"])

Instant = Annotated[float, BeforeValidator(parse_time)]


class ReservationIn(RequestBody):
    gpu_type: str = Field(min_length=1, max_length=100)
    nodes: int = Field(ge=1, le=100_000, description="whole nodes of the GPU type")
    start: Instant = Field(description="epoch seconds or ISO 8601")
    end: Instant = Field(description="epoch seconds or ISO 8601")
    name: str = Field(default="", max_length=100, pattern=r"^$|^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    org: str | None = Field(default=None, min_length=1, max_length=100, description="operators: the org")
    project: str | None = Field(default=None, min_length=1, max_length=100, description="who pays (default)")
    note: str = Field(default="", max_length=1000)


class DecisionIn(RequestBody):
    note: str = Field(default="", max_length=1000)


class ReservationOut(BaseModel):
    id: int
    name: str
    org: str
    project: str
    gpu_type: str
    nodes: int
    node_names: list[str] | None
    start: float
    end: float
    state: str = Field(description="requested, approved, active, ended, rejected or cancelled")
    price: str | None
    refunded: str | None
    refundable_until: float | None = Field(
        description="cancelled up to this time, an approved reservation is refunded in full (the operator's "
                    "cut-off before the start); null when there is nothing to refund")
    note: str
    created_at: float
    decided_at: float | None
    cancelled_at: float | None


class CapacityOut(BaseModel):
    gpu_type: str
    node_gpus: int
    nodes: int = Field(description="nodes of this type and size in the cluster")
    free: int = Field(description="nodes that could be reserved for the window as things stand now")


def out(row: ReservationRow, now: float, ctx: AppContext) -> ReservationOut:
    cutoff = ctx.settings.reservation_cancel_cutoff_s
    refundable = row.start_at - cutoff if row.state == res.APPROVED and row.price and now < row.end_at else None
    return ReservationOut(
        refundable_until=refundable,
        id=row.id, name=row.name, org=row.org.name, project=row.project.name, gpu_type=row.gpu_type, nodes=row.nodes,
        node_names=None if row.node_names is None else [str(n) for n in row.node_names], start=row.start_at,
        end=row.end_at, state=res.shown_state(row, now), price=None if row.price is None else str(row.price),
        refunded=None if row.refunded is None else str(row.refunded), note=row.note, created_at=row.created_at,
        decided_at=row.decided_at, cancelled_at=row.cancelled_at)


def rules(ctx: AppContext) -> res.ReservationRules:
    s = ctx.settings
    return res.ReservationRules(s.reservation_cancel_cutoff_s, s.reservation_auto_approve_nodes)


@router.get("", response_model=list[ReservationOut])
def list_reservations(ctx: Context, who: CurrentPrincipal) -> list[ReservationOut]:
    """Operators: every reservation; others: their org's. Latest window first."""
    now = ctx.clock()
    with ctx.sessions() as session:
        return [out(r, now, ctx) for r in res.visible(session, who)]


@router.post("", response_model=ReservationOut, status_code=status.HTTP_201_CREATED)
def request_reservation(body: ReservationIn, ctx: Context, who: CurrentPrincipal) -> ReservationOut:
    """Ask for ``nodes`` whole nodes of ``gpu_type`` for ``[start, end)`` (org-admins; operators name the org).
    Refused (422 on ``nodes``) when the project could not pay the price at today's tariff."""
    now = ctx.clock()
    req = res.ReservationRequest(body.gpu_type, body.nodes, body.start, body.end, body.name, body.org, body.project,
                                 body.note)
    with ctx.sessions.begin() as session:
        row = res.request(session, who, req, ctx.cluster, now, rules(ctx))
        result = out(row, now, ctx)
    ctx.notify()
    return result


@router.get("/capacity", response_model=list[CapacityOut])
def free_capacity(ctx: Context, who: CurrentPrincipal, start: Annotated[str, Query()],
                  end: Annotated[str, Query()], gpu_type: str | None = None) -> list[CapacityOut]:
    """How many whole nodes of each GPU type could be reserved for ``[start, end)`` now (times as epoch
    seconds or ISO 8601)."""
    t0, t1 = time_input("start", start), time_input("end", end)
    with ctx.sessions() as session:
        caps = res.capacity(session, ctx.cluster, t0, t1, gpu_type, ctx.clock())
    return [CapacityOut(gpu_type=c.gpu_type, node_gpus=c.node_gpus, nodes=c.nodes, free=c.free) for c in caps]


@router.get("/{rid}", response_model=ReservationOut)
def get_reservation(rid: Id, ctx: Context, who: CurrentPrincipal) -> ReservationOut:
    with ctx.sessions() as session:
        return out(res.get(session, who, rid), ctx.clock(), ctx)


@router.post("/{rid}/approve", response_model=ReservationOut)
def approve_reservation(rid: Id, ctx: Context, who: CurrentPrincipal) -> ReservationOut:
    """Operator: choose the nodes and charge the full price at the tariff's ``reserved`` rate (409 when not
    enough nodes are free for the window)."""
    now = ctx.clock()
    with ctx.sessions.begin() as session:
        result = out(res.approve(session, who, rid, ctx.cluster, now), now, ctx)
    ctx.notify()
    return result


@router.post("/{rid}/reject", response_model=ReservationOut)
def reject_reservation(rid: Id, body: DecisionIn, ctx: Context, who: CurrentPrincipal) -> ReservationOut:
    now = ctx.clock()
    with ctx.sessions.begin() as session:
        return out(res.reject(session, who, rid, now, body.note), now, ctx)


@router.post("/{rid}/cancel", response_model=ReservationOut)
def cancel_reservation(rid: Id, ctx: Context, who: CurrentPrincipal) -> ReservationOut:
    """The org's admin or an operator: refunded in full up to the cut-off before the start; the pending jobs
    that name it are cancelled."""
    now = ctx.clock()
    with ctx.sessions.begin() as session:
        result = out(res.cancel(session, who, rid, now, rules(ctx)), now, ctx)
    ctx.notify()
    return result
