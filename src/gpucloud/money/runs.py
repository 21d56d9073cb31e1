"""What one run of a job pays: the rules the live ledger (:class:`gpucloud.money.ledger.Ledger`, which the
service's budgets apply) and the simulator's accounts (:mod:`gpucloud.sim.money`) both follow — written once.

* :func:`hold_amount`: at its start a run holds the cost of its full requested walltime;
* :func:`covers`: a hold the available points cannot cover is refused;
* :func:`charge_amount`: at its end a run is charged for the time it used, but never past its walltime (the
  grace period of a run stopped at its walltime is not charged) — so never more than it held;
* :func:`part_of_a_node`: a run holding only part of one node, which a tariff with a ``shared`` class charges
  at that class (:func:`gpucloud.money.tariff.priced_class`).

``price`` is the run's cost for a number of seconds (its tariff, GPU type, GPUs and classes are fixed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

Price = Callable[[float], Decimal]


def hold_amount(walltime: float, price: Price) -> Decimal:
    return price(walltime)


def covers(available: Decimal, amount: Decimal) -> bool:
    return amount <= available


def charge_amount(used: float, walltime: float, held: Decimal, price: Price) -> Decimal:
    return min(price(min(used, walltime)), held)


def part_of_a_node(held: Iterable[tuple[int, int]]) -> bool:
    """``held``: per node of the run, (GPUs it holds there, GPUs of the node). True for one node, not whole."""
    nodes = list(held)
    return len(nodes) == 1 and nodes[0][0] < nodes[0][1]
