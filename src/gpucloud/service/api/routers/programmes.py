"""``/api/v1/programmes``: subsidy programmes. Everyone reads them (with what each has paid, holds and has
left); operators create and change them. See :mod:`gpucloud.service.programmes`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from gpucloud.money.points import ZERO
from gpucloud.service import programmes
from gpucloud.service.api.context import Context
from gpucloud.service.api.schemas import Name, RequestBody
from gpucloud.service.auth import CurrentPrincipal, Principal
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.models import ProgrammeRow

router = APIRouter(prefix="/programmes", tags=["money"])

Kind = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
POINTS = "points, a decimal string with at most 4 decimals (e.g. \"1000\")"


class ProgrammeIn(RequestBody):
    name: Name
    share: str = Field(max_length=40, description="the share of eligible usage it pays: a fraction (\"1/2\") or "
                        "decimal (\"0.5\")")
    total: str = Field(max_length=40, description=POINTS)
    org_cap: str | None = Field(default=None, max_length=40, description="most it pays for one org; " + POINTS)
    orgs: list[Name] = Field(default_factory=list, description="orgs eligible by name")
    org_kinds: list[Kind] = Field(default_factory=list, description="orgs eligible by kind (e.g. university)")
    valid_from: float | None = Field(default=None, description="runs that start from then")
    valid_until: float | None = Field(default=None, description="... and before then")


class ProgrammeUpdate(RequestBody):
    """Only the fields given change; ``org_cap``/``valid_from``/``valid_until`` given as null are removed."""

    share: str | None = Field(default=None, max_length=40)
    total: str | None = Field(default=None, max_length=40)
    org_cap: str | None = Field(default=None, max_length=40)
    orgs: list[Name] | None = None
    org_kinds: list[Kind] | None = None
    valid_from: float | None = None
    valid_until: float | None = None


class ProgrammeOut(BaseModel):
    name: str
    share: str
    total: str
    org_cap: str | None
    orgs: list[str] = Field(description="the orgs eligible by name (others than operators: only their own)")
    org_kinds: list[str]
    valid_from: float | None
    valid_until: float | None
    paid: str = Field(description="subsidies paid on settled runs")
    held: str = Field(description="its part of the holds of running jobs")
    remaining: str = Field(description="total − paid − held")
    #: committed (paid + held) per org: every org for operators, the caller's own for others
    org_committed: dict[str, str]


def _out(row: ProgrammeRow, c: programmes.Commitments, who: Principal) -> ProgrammeOut:
    paid, held = c.paid_by(row.name), c.held_by(row.name)
    per_org = {org: str(v) for (p, org), v in sorted(c.org_committed().items())
               if p == row.name and (who.is_operator or org == who.org)}
    return ProgrammeOut(name=row.name, share=row.share, total=str(row.total),
                        org_cap=None if row.org_cap is None else str(row.org_cap),
                        orgs=[o for o in row.orgs if who.is_operator or o == who.org],  # no other org's name
                        org_kinds=list(row.org_kinds), valid_from=row.valid_from, valid_until=row.valid_until,
                        paid=str(paid), held=str(held), remaining=str(max(ZERO, row.total - paid - held)),
                        org_committed=per_org)


def _amount(field: str, text: str | None) -> Decimal | None:
    return None if text is None else programmes.parse_points(field, text)


@router.get("", response_model=list[ProgrammeOut])
def list_programmes(ctx: Context, who: CurrentPrincipal) -> list[ProgrammeOut]:
    """Every programme, by name, with what it has paid, holds and has left."""
    with ctx.sessions() as session:
        c = programmes.commitments(session)
        return [_out(r, c, who) for r in programmes.list_rows(session)]


@router.post("", response_model=ProgrammeOut, status_code=status.HTTP_201_CREATED)
def create_programme(body: ProgrammeIn, ctx: Context, who: CurrentPrincipal) -> ProgrammeOut:
    """Create a programme (operator); it applies to runs that start from now on."""
    who.require_operator()
    share = programmes.parse_share(body.share)
    total = programmes.parse_points("total", body.total)
    cap = _amount("org_cap", body.org_cap)
    with ctx.sessions.begin() as session:
        row = programmes.create(session, name=body.name, share=share, total=total, org_cap=cap, orgs=body.orgs,
                                org_kinds=body.org_kinds, valid_from=body.valid_from,
                                valid_until=body.valid_until, now=ctx.clock())
        bump_version(session)
        out = _out(row, programmes.Commitments(), who)
    ctx.notify()
    return out


@router.patch("/{name}", response_model=ProgrammeOut)
def update_programme(name: str, body: ProgrammeUpdate, ctx: Context, who: CurrentPrincipal) -> ProgrammeOut:
    """Change a programme's terms (operator). Runs already holding a subsidy keep their share."""
    who.require_operator()
    changes: dict[str, Any] = dict(body.model_dump(exclude_unset=True))
    if changes.get("share") is not None:
        changes["share"] = programmes.parse_share(changes["share"])
    for field in ("total", "org_cap"):
        if changes.get(field) is not None:
            changes[field] = programmes.parse_points(field, changes[field])
    for field in ("share", "total", "orgs", "org_kinds"):
        if field in changes and changes[field] is None:
            changes.pop(field)
    with ctx.sessions.begin() as session:
        row = programmes.update(session, name, changes)
        bump_version(session)
        out = _out(row, programmes.commitments(session, [name]), who)
    ctx.notify()
    return out
