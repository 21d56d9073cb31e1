"""``GET /api/v1/fairshare``: quotas and fair share at a glance (operators: every org and who borrows from whom;
org-admins: their org). See :mod:`gpucloud.service.standing`."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gpucloud.service import standing
from gpucloud.service.api.context import Context
from gpucloud.service.auth import CurrentPrincipal, Forbidden

router = APIRouter(prefix="/fairshare", tags=["quotas"])


class TypeStandingOut(BaseModel):
    gpu_type: str
    guaranteed: int
    borrow_limit: int | None = Field(description="extra GPUs it may borrow; null: no limit")
    used: int = Field(description="GPUs its jobs hold now")
    borrowed: int = Field(description="used beyond the guarantee")
    idle_guaranteed: int = Field(description="guaranteed GPUs it leaves idle, lent to others who need them")
    recent_gpus: float = Field(description="the decayed average of GPUs it held lately, plus those held now")


class OrgStandingOut(BaseModel):
    org: str
    weight: float
    types: list[TypeStandingOut]
    recent_gpus: float
    usage_share: float = Field(description="its part of every org's recent GPUs")
    entitled_share: float = Field(description="its weight over the sum of the weights")
    standing: float = Field(description="usage share over entitled share: below 1 it is owed GPUs")
    dominant_share: float = Field(description="what the fairshare policy orders orgs by, lowest first")
    rank: int = Field(description="1: the org the fairshare policy serves first")


class LoanOut(BaseModel):
    borrower: str
    lender: str | None = Field(description="null: capacity nobody is guaranteed")
    gpu_type: str
    gpus: int


class FairshareOut(BaseModel):
    half_life_s: float
    orgs: list[OrgStandingOut]
    loans: list[LoanOut] = Field(description="who borrows from whom (operators only; empty for others)")


@router.get("", response_model=FairshareOut)
def get_fairshare(ctx: Context, who: CurrentPrincipal) -> FairshareOut:
    if not (who.is_operator or who.is_org_admin):
        raise Forbidden("only operators and org-admins may read quotas and fair share")
    with ctx.sessions() as session:
        s = standing.standing(session, ctx.cluster, ctx.clock())
    orgs = [o for o in s.orgs if who.is_operator or o.org == who.org]
    return FairshareOut(
        half_life_s=s.half_life_s,
        orgs=[OrgStandingOut(org=o.org, weight=o.weight, recent_gpus=o.recent_gpus, usage_share=o.usage_share,
                             entitled_share=o.entitled_share, standing=o.standing, dominant_share=o.dominant_share,
                             rank=o.rank, types=[TypeStandingOut(**vars(t)) for t in o.types]) for o in orgs],
        loans=[LoanOut(**vars(x)) for x in s.loans] if who.is_operator else [])
