"""Money: ``/api/v1/budgets`` (balances, the ledger, top-ups, expiry), ``/api/v1/tariffs`` and ``/api/v1/usage``.

Everyone reads tariffs; users see the budgets of their org's projects, operators all; top-ups and tariff
changes are the operator's. See :mod:`gpucloud.service.budgets`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, BeforeValidator, Field

from gpucloud.errors import InputError
from gpucloud.money.points import is_points
from gpucloud.money.tariff_file import tariffs_from_dict
from gpucloud.money.tariff_json import tariff_to_json
from gpucloud.money.usage import aggregate, to_csv
from gpucloud.service import budgets, usage_series
from gpucloud.service.api.context import Context
from gpucloud.service.api.params import Offset
from gpucloud.service.api.schemas import RequestBody
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.errors import NotFound
from gpucloud.times import parse_time, time_input

router = APIRouter(tags=["money"])


class BudgetOut(BaseModel):
    org: str
    project: str
    balance: str
    held: str
    available: str
    spent: str
    cap: str | None
    expires_at: float | None


class LedgerEntryOut(BaseModel):
    id: int
    kind: str
    amount: str
    subsidy: str
    programme: str = ""
    ref: str
    at: float
    note: str


class LedgerPageOut(BaseModel):
    items: list[LedgerEntryOut]
    total: int


class TopUp(RequestBody):
    amount: str = Field(max_length=40, description="points, a decimal string with at most 4 decimals (e.g. \"100\")")
    note: str = Field(default="", max_length=1000)
    expires_at: Annotated[float, BeforeValidator(parse_time)] | None = Field(
        default=None, description="epoch seconds, a date (midnight UTC) or an ISO 8601 date-time, as reservations")
    cap: str | None = Field(default=None, max_length=40)


class TariffsIn(RequestBody):
    tariffs: list[dict[str, Any]] = Field(description="tariff versions, as in a tariff file")


def _points(field: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InputError(field, "must be a decimal number of points", text) from None
    if not is_points(value) or value < 0:
        raise InputError(field, "must be a non-negative number of points with at most 4 decimals", text)
    return value.quantize(Decimal("0.0001"))


def _budget_out(org: str, project: str, b: Any) -> BudgetOut:
    return BudgetOut(org=org, project=project, balance=str(b.balance), held=str(b.held), available=str(b.available),
                     spent=str(b.spent), cap=None if b.cap is None else str(b.cap), expires_at=b.expires_at)


@router.get("/budgets", response_model=list[BudgetOut])
def list_budgets(ctx: Context, who: CurrentPrincipal) -> list[BudgetOut]:
    """The budgets of the caller's org's projects (operators: every project)."""
    if not who.is_operator and who.org_id is None:
        return []
    with ctx.sessions() as session:
        rows = budgets.budgets(session, None if who.is_operator else who.org_id)
        return [_budget_out(p.org.name, p.name, b) for p, b in rows]


@router.get("/budgets/{org}/{project}/ledger", response_model=LedgerPageOut)
def ledger(org: str, project: str, ctx: Context, who: CurrentPrincipal,
           offset: Offset = 0, limit: int = Query(100, ge=1, le=1000),
           order: Literal["asc", "desc"] = "asc") -> LedgerPageOut:
    """A page of a project's ledger entries, oldest first (``order=desc``: newest first)."""
    with ctx.sessions() as session:
        row = budgets.find_project(session, org, project)
        if not who.sees_org(row.org_id):
            raise NotFound("project", f"{org}/{project}")  # as if it did not exist: another org's is not shown
        entries, total = budgets.ledger_page(session, row, offset, limit, newest_first=order == "desc")
        return LedgerPageOut(total=total, items=[
            LedgerEntryOut(id=e.id, kind=e.kind, amount=str(e.amount), subsidy=str(e.subsidy),
                           programme=e.programme, ref=e.ref or "",
                           at=e.at, note=e.note) for e in entries])


@router.post("/budgets/{org}/{project}/topup", response_model=BudgetOut)
def top_up(org: str, project: str, body: TopUp, ctx: Context, who: CurrentPrincipal) -> BudgetOut:
    """Add points to a project's budget (operator); jobs waiting for budget are retried at once."""
    who.require_operator()
    amount = _points("amount", body.amount)
    cap = None if body.cap is None else _points("cap", body.cap)
    with ctx.sessions.begin() as session:
        row = budgets.find_project(session, org, project)
        b = budgets.top_up(session, row, amount, ctx.clock(), note=body.note, expires_at=body.expires_at, cap=cap)
        bump_version(session)
    ctx.notify()
    return _budget_out(org, project, b)


@router.post("/budgets/expire")
def expire(ctx: Context, who: CurrentPrincipal) -> dict[str, list[str]]:
    """Expire now the budgets past their expiry date (operator; the control loop does it about once a minute).
    Returns the projects (``org/project``) that got an expiry entry; a second call expires nothing more."""
    who.require_operator()
    with ctx.sessions.begin() as session:
        expired = budgets.expire_due(session, ctx.clock())
        if expired:
            bump_version(session)
    if expired:
        ctx.notify()
    return {"expired": expired}


@router.get("/tariffs")
def list_tariffs(ctx: Context, who: CurrentPrincipal) -> dict[str, Any]:
    """The tariff versions, oldest first, in the tariff file's shape (prices as decimal strings)."""
    with ctx.sessions() as session:
        book = budgets.tariff_book(session)
    return {"tariffs": [] if book is None else [tariff_to_json(t) for t in book.tariffs]}


@router.post("/tariffs", status_code=status.HTTP_201_CREATED)
def add_tariffs(body: TariffsIn, ctx: Context, who: CurrentPrincipal) -> dict[str, Any]:
    """Add tariff versions (operator). Versions are never changed: a new price is a new version with a later
    ``valid_from``. The first tariff turns budgets on: from then on jobs need points to start."""
    who.require_operator()
    book = tariffs_from_dict(body.model_dump(), ctx.cluster, where="request body")
    with ctx.sessions.begin() as session:
        added = budgets.add_tariffs(session, book, ctx.clock())
        bump_version(session)
    ctx.notify()
    return {"added": [t.name for t in added]}


@router.get("/usage", response_model=None)
def usage(ctx: Context, who: CurrentPrincipal, month: str = Query(pattern=r"^\d{4}-\d{2}$"),
          format: Literal["json", "csv"] = "json", by_user: bool = False) -> Any:
    """Usage of a UTC month by org × project (× user with ``by_user``) × GPU type (operators: all orgs; others:
    their own org). Paid reservations count as their whole window."""
    with ctx.sessions() as session:
        records = budgets.usage_records(session)
    if not who.is_operator:
        records = [r for r in records if r.org == who.org]
    rows = aggregate(records, by_user=by_user, month=budgets.check_month(month))
    if format == "csv":
        return Response(to_csv(rows, by_user=by_user), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="usage-{month}.csv"'})
    return [{"month": r.month, "org": r.org, "project": r.project, **({"user": r.user} if by_user else {}),
             "gpu_type": r.gpu_type, "runs": r.runs,
             "gpu_hours": str(r.gpu_hours), "points": str(r.points), "subsidy": str(r.subsidy),
             "charged": str(r.charged)} for r in rows]


class SeriesBucketOut(BaseModel):
    start: float
    label: str


class SeriesPointOut(BaseModel):
    start: float = Field(description="the bucket's start, UTC epoch seconds")
    bucket: str = Field(description="the bucket's label: 2025-04-01 (day) or 2025-04 (month)")
    org: str
    project: str
    gpu_type: str
    runs: int = Field(description="job runs with time in the bucket")
    gpu_hours: str = Field(description="from the runs of jobs (job_events), charged or not; a running job up to now")
    points: str = Field(description="gross points of the ledger's charges (\"0.0000\" where nothing was charged)")
    subsidy: str = Field(description="the part of points that subsidy programmes paid")
    charged: str = Field(description="points less subsidy: what the project's budget paid")


class SeriesOut(BaseModel):
    bucket: str
    start: float = Field(description="the first bucket's start")
    end: float = Field(description="the range's end (exclusive)")
    buckets: list[SeriesBucketOut] = Field(description="every bucket of the range, empty ones included")
    items: list[SeriesPointOut] = Field(description="one per bucket × org × project × GPU type with usage")


def _epoch_param(name: str, value: str | None) -> float | None:
    return None if value is None or not value.strip() else time_input(name, value)


@router.get("/usage/series", response_model=SeriesOut)
def get_usage_series(ctx: Context, who: CurrentPrincipal, bucket: Literal["day", "month"] = "day",
                 from_: str | None = Query(None, alias="from", description="date, datetime or epoch seconds "
                                           "(default: 30 days or 12 months before `to`)"),
                 to: str | None = Query(None, description="end, exclusive (default: now)"),
                 org: str | None = None, project: str | None = None) -> SeriesOut:
    """GPU-hours and points per UTC day or month × org × project × GPU type: GPU-hours (and runs) from what jobs
    ran (``job_events``; a run still going counts up to now), points, subsidy and charged from the ledger's
    charges (0 where nothing was charged, e.g. with no tariff); a run or charge that crosses a bucket boundary is
    split by time. Operators see every org; others only their own."""
    end = _epoch_param("to", to)
    now = ctx.clock()
    end = now if end is None else end
    start = _epoch_param("from", from_)
    if start is None:
        start = usage_series.default_start(end, bucket)
    if start >= end:
        raise InputError("from", "must be before to", from_)
    if not who.is_operator:
        if org is not None and org != who.org:
            raise NotFound("org", org)  # another org is not shown, whether it exists or not
        org = who.org
        if org is None:
            return SeriesOut(bucket=bucket, start=start, end=end, buckets=[], items=[])
    starts = usage_series.bucket_starts(start, end, bucket)  # at least one: start < end
    with ctx.sessions() as session:
        records = budgets.usage_records(session)
        # the selected buckets whole (the range does not cut a bucket), up to now
        runs = usage_series.job_runs(session, starts[0], usage_series.next_bucket(starts[-1], bucket), now,
                                     org=org, project=project)
    records = [r for r in records if (org is None or r.org == org) and (project is None or r.project == project)]
    found = usage_series.series(records, bucket, start, end, runs=runs)
    return SeriesOut(
        bucket=bucket, start=starts[0] if starts else start, end=end,
        buckets=[SeriesBucketOut(start=s, label=usage_series.label(s, bucket)) for s in starts],
        items=[SeriesPointOut(start=p.start, bucket=p.label, org=p.org, project=p.project, gpu_type=p.gpu_type,
                              runs=p.runs, gpu_hours=str(p.gpu_hours), points=str(p.points),
                              subsidy=str(p.subsidy), charged=str(p.charged)) for p in found])
