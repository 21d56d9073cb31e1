"""Reservation pricing and refunds (the scheduling side lives in the core).

A reservation books ``nodes`` × ``gpus_per_node`` GPUs of one type for the window ``[start, end)``. It is
charged in full when booked, at the ``reserved`` service rate of the tariff in force *at booking*::

    price = cost(tariff, gpu_type, nodes × gpus_per_node, end − start, "reserved")

(the priority multiplier does not apply; the tariff's minimum billed time does). Cancelled at or before
``start − cancel_cutoff`` it is refunded in full; later, nothing is refunded. Jobs that run inside a paid
reservation are not charged again (the service holds nothing for them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from gpucloud.errors import InputError
from gpucloud.model.priority import DEFAULT_PRIORITY_CLASS
from gpucloud.money.ledger import Ledger
from gpucloud.money.points import ZERO
from gpucloud.money.tariff import Tariff, cost

RESERVED_SERVICE_CLASS = "reserved"
#: Default cancellation cut-off: a day before the window starts.
DEFAULT_CANCEL_CUTOFF = 24 * 3600.0


@dataclass(frozen=True)
class Reservation:
    id: str
    org: str
    project: str
    gpu_type: str
    nodes: int
    gpus_per_node: int
    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.id:
            raise InputError("id", "a reservation needs an id", self.id)
        if self.nodes < 1:
            raise InputError("nodes", "must be at least 1", self.nodes)
        if self.gpus_per_node < 1:
            raise InputError("gpus_per_node", "must be at least 1", self.gpus_per_node)
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.end <= self.start:
            raise InputError("end", f"must be a finite time after start ({self.start})", self.end)

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ReservationTerms:
    """The operator's rule for refunds: cancelled at least ``cancel_cutoff`` seconds before the start."""

    cancel_cutoff: float = DEFAULT_CANCEL_CUTOFF

    def __post_init__(self) -> None:
        if not math.isfinite(self.cancel_cutoff) or self.cancel_cutoff < 0:
            raise InputError("cancel_cutoff", "must be a finite, non-negative number of seconds",
                             self.cancel_cutoff)


def price(tariff: Tariff, r: Reservation) -> Decimal:
    """The full price of the reservation at the tariff's ``reserved`` rate."""
    return cost(tariff, r.gpu_type, r.gpus, r.seconds, RESERVED_SERVICE_CLASS, DEFAULT_PRIORITY_CLASS)


def refund_on_cancel(r: Reservation, paid: Decimal, cancelled_at: float,
                     terms: ReservationTerms = ReservationTerms()) -> Decimal:
    """What a cancellation at ``cancelled_at`` gives back: all of ``paid`` up to the cut-off, then nothing."""
    return paid if cancelled_at <= r.start - terms.cancel_cutoff else ZERO


def book(ledger: Ledger, r: Reservation, tariff: Tariff, at: float) -> Ledger:
    """Charge the reservation's full price to its project (:class:`BudgetError` if it cannot pay)."""
    if at > r.start:
        raise InputError("start", f"the window has already started (booked at {at})", r.start)
    return ledger.charge(r.project, f"reservation:{r.id}", price(tariff, r), at, org=r.org,
                         note=f"reservation {r.id}: {r.nodes}×{r.gpus_per_node} {r.gpu_type}")


def cancel(ledger: Ledger, r: Reservation, at: float, terms: ReservationTerms = ReservationTerms()) -> Ledger:
    """Cancel a booked reservation: refund what it paid if before the cut-off (no entry otherwise)."""
    ref = f"reservation:{r.id}"
    back = refund_on_cancel(r, ledger.charged(r.project, ref), at, terms)
    if back == 0:
        return ledger
    return ledger.refund(r.project, ref, back, at, note=f"reservation {r.id} cancelled before the cut-off")
