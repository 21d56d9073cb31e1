"""Subsidy programmes: public money that pays a share of eligible usage, up to a total and a per-org cap.

:func:`split` divides a charge into the programme's part and the project's part::

    wanted  = round(share × charge)                       (to 0.0001 points, half to even)
    subsidy = min(wanted, total − spent_total, org_cap − spent_org)   (never below 0)
    project = charge − subsidy

so ``subsidy + project == charge`` exactly, and a programme that reaches its total or an org's cap pays exactly
up to it and not a quantum more. "Spent" is what the programme has committed: settled subsidies plus the
subsidy parts of holds still open (the ledger keeps that count).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from gpucloud.errors import InputError
from gpucloud.money.points import ZERO, exact, is_points, points


@dataclass(frozen=True)
class Programme:
    """A subsidy programme. Eligible: orgs named in ``orgs``, or whose kind is in ``org_kinds``."""

    name: str
    share: Fraction
    total: Decimal
    org_cap: Decimal | None = None
    orgs: Set[str] = field(default_factory=frozenset)
    org_kinds: Set[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        share = exact(self.share)
        if not 0 <= share <= 1:
            raise InputError("share", "must be between 0 and 1", str(self.share))
        object.__setattr__(self, "share", share)
        for fname in ("total", "org_cap"):
            v = getattr(self, fname)
            if v is not None and (not is_points(v) or v < 0):
                raise InputError(fname, "must be a non-negative Decimal with at most 4 decimals", v)
        object.__setattr__(self, "orgs", frozenset(self.orgs))
        object.__setattr__(self, "org_kinds", frozenset(self.org_kinds))

    def eligible(self, org: str, org_kind: str = "") -> bool:
        return org in self.orgs or (bool(org_kind) and org_kind in self.org_kinds)


def split(
    charge: Decimal, programme: Programme, spent_so_far_total: Decimal, spent_so_far_org: Decimal
) -> tuple[Decimal, Decimal]:
    """``(subsidy_part, project_part)`` of ``charge``; the two add up to ``charge`` exactly."""
    if not is_points(charge) or charge < 0:
        raise InputError("charge", "must be a non-negative amount of points", charge)
    wanted = points(programme.share * Fraction(charge))
    room = programme.total - spent_so_far_total
    if programme.org_cap is not None:
        room = min(room, programme.org_cap - spent_so_far_org)
    subsidy = max(ZERO, min(wanted, room))
    return subsidy, charge - subsidy
