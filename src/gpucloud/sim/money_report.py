"""What a priced replay reports: costs per org × project × GPU type, and per org its budget figures.

Points are Decimals with 4 decimals; in ``summary.json`` they are strings (``"12.5000"``), never floats.
GPU-hours are rounded to 4 decimals (a JSON number). Times (``ran_dry_at``) are seconds of trace time, with the
UTC date they map to (``ran_dry_at_utc``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gpucloud.money.points import ZERO, exact, points
from gpucloud.money.tariff import DEFAULT_SERVICE_CLASS


def gpu_hours(gpu_seconds: float) -> Decimal:
    """GPU-seconds as GPU-hours, rounded to 4 decimals (half to even)."""
    return points(exact(gpu_seconds) / 3600)


def utc(epoch: float) -> str:
    """``2025-04-01T00:00:00Z`` (fractions of a second are dropped)."""
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class CostRow:
    """One line of ``costs.csv``: the runs of one org × project × GPU type."""

    org: str
    project: str
    gpu_type: str
    runs: int
    gpu_hours: Decimal
    points: Decimal


@dataclass(frozen=True, slots=True)
class OrgMoney:
    """One org: what its runs cost (= points spent) and, with a budget, what it had, has left and when it first
    could not pay. ``jobs_waited``: jobs refused for budget at least once; ``jobs_never_ran``: jobs still
    waiting for budget at the end that never started; ``jobs_unfinished``: every job still waiting at the end
    (also preempted ones that could not restart)."""

    points: Decimal
    gpu_hours: Decimal
    by_gpu_type: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # type → (GPU-hours, points)
    budget: Decimal | None = None
    left: Decimal | None = None
    ran_dry_at: float | None = None
    jobs_waited: int = 0
    jobs_never_ran: int = 0
    jobs_unfinished: int = 0


@dataclass(frozen=True)
class MoneyReport:
    """The money of one replay: ``trace_start`` (UTC epoch second of trace time 0), the tariff versions by
    name, whether budgets were enforced, the cost rows and the orgs."""

    trace_start: float
    tariffs: tuple[str, ...]
    budgets: bool
    rows: list[CostRow]
    orgs: dict[str, OrgMoney]

    @property
    def points(self) -> Decimal:
        return sum((o.points for o in self.orgs.values()), ZERO)

    def to_dict(self) -> dict[str, Any]:
        """The ``money`` part of ``summary.json``."""
        orgs: dict[str, Any] = {}
        for name, o in self.orgs.items():
            d: dict[str, Any] = {
                "points": str(o.points),
                "gpu_hours": float(o.gpu_hours),
                "by_gpu_type": {g: {"gpu_hours": float(h), "points": str(p)} for g, (h, p) in o.by_gpu_type.items()},
            }
            if self.budgets:
                d.update({
                    "budget": None if o.budget is None else str(o.budget),
                    "left": None if o.left is None else str(o.left),
                    "ran_dry_at": o.ran_dry_at,
                    "ran_dry_at_utc": None if o.ran_dry_at is None else utc(self.trace_start + o.ran_dry_at),
                    "jobs_waited_for_budget": o.jobs_waited,
                    "jobs_never_ran": o.jobs_never_ran,
                    "jobs_unfinished": o.jobs_unfinished,
                })
            orgs[name] = d
        return {
            "trace_start": self.trace_start,
            "trace_start_utc": utc(self.trace_start),
            "tariffs": list(self.tariffs),
            "service_class": DEFAULT_SERVICE_CLASS,
            "budgets": self.budgets,
            "points": str(self.points),
            "orgs": orgs,
        }
