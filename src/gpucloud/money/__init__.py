"""Money: tariffs, the points ledger, subsidy programmes, reservation pricing and usage reports.

Pure rules only: no database, no web, no clock. Every amount is a :class:`decimal.Decimal` number of points
quantized to :data:`gpucloud.money.points.QUANTUM` (0.0001) with ROUND_HALF_EVEN; every time is a UTC epoch
second (``float``), like :attr:`gpucloud.model.job.JobSpec.submit_time`. See ``docs/money.md``.
"""

from __future__ import annotations

from gpucloud.money.ledger import Budget, BudgetError, Entry, EntryKind, JobRun, Ledger, LedgerError
from gpucloud.money.points import QUANTUM, points
from gpucloud.money.subsidy import Programme, split
from gpucloud.money.tariff import Tariff, TariffBook, cost

__all__ = [
    "QUANTUM",
    "Budget",
    "BudgetError",
    "Entry",
    "EntryKind",
    "JobRun",
    "Ledger",
    "LedgerError",
    "Programme",
    "Tariff",
    "TariffBook",
    "cost",
    "points",
    "split",
]
