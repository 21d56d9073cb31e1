"""Quotas and fair share at a glance: per org and GPU type, the GPUs held now against the guaranteed quota and the
borrowing limit; each org's fair-share standing; and who borrows from whom.

- **Used**: GPUs held now by the org's admitted, running and preempting jobs, by the type of the nodes they hold.
- **Borrowed**: used beyond the guarantee. Borrowed GPUs are not labelled with a lender, so they are attributed
  the way a pool lends them: first from capacity nobody is guaranteed (the cluster's GPUs of the type beyond the
  sum of the quotas), then from the idle guaranteed GPUs of other orgs, in proportion to how many each leaves
  idle; each borrower's share of the lenders is in proportion to what it borrows (whole GPUs, largest
  remainders).
- **Fair share**: the ``fairshare`` policy's usage, GPU-seconds decayed with the core's half-life (saved by the
  control loop, decayed here to now), plus the GPUs held now, as "recent GPUs": the average number of GPUs the org
  held lately. Its share of all orgs' recent GPUs, against its entitled share (its weight over the sum of the
  weights), gives its standing: below 1 it is owed GPUs and its jobs go first, above 1 it has had more than its
  share. ``dominant_share`` is the number the policy orders orgs by (lowest first, see
  :mod:`gpucloud.core.policies.fairshare`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpucloud.core.state import SchedulerConfig
from gpucloud.model.cluster import Cluster
from gpucloud.service.jobs import holders
from gpucloud.service.store.models import FairshareUsageRow
from gpucloud.service.store.tenants import list_orgs, list_quotas


@dataclass(frozen=True)
class TypeStanding:
    gpu_type: str
    guaranteed: int
    #: extra GPUs it may borrow (None: no limit)
    borrow_limit: int | None
    used: int
    borrowed: int
    #: guaranteed GPUs it leaves idle (lent to others when they need them)
    idle_guaranteed: int
    recent_gpus: float


@dataclass(frozen=True)
class OrgStanding:
    org: str
    weight: float
    types: list[TypeStanding]
    recent_gpus: float
    usage_share: float
    entitled_share: float
    #: usage share over entitled share (1: exactly its share)
    standing: float
    dominant_share: float
    #: 1 = the org the policy serves first
    rank: int


@dataclass(frozen=True)
class Loan:
    """``gpus`` GPUs of ``gpu_type`` that ``borrower`` holds beyond its guarantee, attributed to ``lender`` (None:
    capacity nobody is guaranteed)."""

    borrower: str
    lender: str | None
    gpu_type: str
    gpus: int


@dataclass(frozen=True)
class Standing:
    orgs: list[OrgStanding]
    loans: list[Loan] = field(default_factory=list)
    half_life_s: float = SchedulerConfig().usage_half_life


def standing(session: Session, cluster: Cluster, now: float,
             half_life_s: float = SchedulerConfig().usage_half_life) -> Standing:
    """Every org's standing now (the caller shows each user what they may see)."""
    orgs = list_orgs(session)
    names = {o.id: o.name for o in orgs}
    quotas = {(names[q.org_id], q.gpu_type): q for q in list_quotas(session)}
    used: dict[str, Counter[str]] = {o.name: Counter() for o in orgs}
    for h in holders(session):
        i = cluster.index_of(h.node)
        if i is not None and h.org_id in names:
            used[names[h.org_id]][cluster.nodes[i].gpu_type] += len(h.gpus)
    tau = half_life_s / math.log(2)
    recent: dict[str, dict[str, float]] = {o.name: {} for o in orgs}
    for row in session.scalars(select(FairshareUsageRow)):
        if row.org in recent:
            by_type = recent[row.org]
            by_type[row.gpu_type] = (by_type.get(row.gpu_type, 0.0)
                                     + row.gpu_seconds * math.exp(-max(0.0, now - row.as_of) / tau) / tau)
    capacity = cluster.gpus_by_type
    total_weight = sum(o.weight for o in orgs) or 1.0
    per_org: dict[str, tuple[list[TypeStanding], float, float]] = {}
    for o in orgs:
        rows, dominant = [], 0.0
        for t in cluster.gpu_types:
            q = quotas.get((o.name, t))
            g = 0 if q is None else q.guaranteed
            u = used[o.name][t]
            r = recent[o.name].get(t, 0.0) + u
            rows.append(TypeStanding(t, g, None if q is None else q.borrow_limit, u, max(0, u - g), max(0, g - u), r))
            dominant = max(dominant, r / max(1, capacity[t]))
        per_org[o.name] = (rows, sum(ts.recent_gpus for ts in rows), dominant / o.weight)
    all_recent = sum(v[1] for v in per_org.values())
    order = sorted(per_org, key=lambda name: (per_org[name][2], name))
    out = []
    for o in orgs:
        rows, mine, dominant = per_org[o.name]
        usage_share = mine / all_recent if all_recent > 0 else 0.0
        entitled = o.weight / total_weight
        out.append(OrgStanding(o.name, o.weight, rows, mine, usage_share, entitled, usage_share / entitled,
                               dominant, order.index(o.name) + 1))
    return Standing(out, _loans(out, capacity), half_life_s)


def _loans(orgs: list[OrgStanding], capacity: dict[str, int]) -> list[Loan]:
    loans: list[Loan] = []
    for t, total in capacity.items():
        rows = {o.org: next(ts for ts in o.types if ts.gpu_type == t) for o in orgs}
        borrowers = {name: ts.borrowed for name, ts in rows.items() if ts.borrowed > 0}
        if not borrowers:
            continue
        owed = sum(borrowers.values())
        pool = max(0, total - sum(ts.guaranteed for ts in rows.values()))
        sources: dict[str | None, int] = {}
        from_pool = min(owed, pool)
        if from_pool:
            sources[None] = from_pool
        idle: dict[str | None, int] = {name: ts.idle_guaranteed for name, ts in rows.items() if ts.idle_guaranteed}
        sources.update(_split(owed - from_pool, idle))
        for borrower, n in sorted(borrowers.items()):
            loans += [Loan(borrower, lender, t, g) for lender, g in _split(n, sources).items() if g > 0]
    return loans


def _split(amount: int, weights: dict[str | None, int]) -> dict[str | None, int]:
    """``amount`` split into whole parts in proportion to ``weights`` (largest remainders; all of it, unless
    there is nothing to split by)."""
    total = sum(weights.values())
    if amount <= 0 or total <= 0:
        return {}
    exact = {k: amount * w / total for k, w in weights.items()}
    parts: dict[str | None, int] = {k: math.floor(v) for k, v in exact.items()}
    left = amount - sum(parts.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - parts[k]), str(k)))[:left]:
        parts[k] += 1
    return parts
