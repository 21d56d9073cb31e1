"""Reservation pricing (full price at booking, reserved rate) and refunds before the cut-off only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from money_world import simple_tariff

from gpucloud.errors import InputError
from gpucloud.money.ledger import BudgetError, EntryKind, Ledger
from gpucloud.money.reservation import Reservation, ReservationTerms, book, cancel, price, refund_on_cancel

D = Decimal
HOUR = 3600.0
START = 1000 * HOUR
# 2 nodes × 8 H100 for 10 h
RES = Reservation("r1", "org-a", "p", "H100-80GB", nodes=2, gpus_per_node=8, start=START, end=START + 10 * HOUR)
TERMS = ReservationTerms(cancel_cutoff=24 * HOUR)


def test_price_is_full_window_at_reserved_rate() -> None:
    # 16 GPUs × 2 points × 1.5 (reserved) × 10 h = 480
    assert price(simple_tariff(), RES) == D("480.0000")


def test_refunded_on_early_cancel() -> None:
    led = book(Ledger().top_up("p", D("1000"), at=0), RES, simple_tariff(), at=0)
    assert led.balance("p") == D("520.0000")
    # cancelled 25 h before the start: before the 24 h cut-off, all 480 back
    led = cancel(led, RES, at=START - 25 * HOUR, terms=TERMS)
    assert (led.entries[-1].kind, led.entries[-1].amount) == (EntryKind.REFUND, D("480.0000"))
    assert led.balance("p") == D("1000.0000")
    led.verify()


def test_not_refunded_after_cut_off() -> None:
    led = book(Ledger().top_up("p", D("1000"), at=0), RES, simple_tariff(), at=0)
    after = cancel(led, RES, at=START - 23 * HOUR, terms=TERMS)  # 23 h before: too late
    assert after is led and after.balance("p") == D("520.0000")
    assert refund_on_cancel(RES, D("480"), START - 24 * HOUR, TERMS) == D("480")  # exactly at the cut-off
    assert refund_on_cancel(RES, D("480"), START - 24 * HOUR + 1, TERMS) == 0
    # a second cancel after a refund gives nothing more
    led = cancel(led, RES, at=START - 48 * HOUR, terms=TERMS)
    assert cancel(led, RES, at=START - 47 * HOUR, terms=TERMS) is led


def test_booking_needs_budget_and_a_future_window() -> None:
    with pytest.raises(BudgetError):
        book(Ledger().top_up("p", D("479.9999"), at=0), RES, simple_tariff(), at=0)
    with pytest.raises(InputError) as e:
        book(Ledger().top_up("p", D("1000"), at=0), RES, simple_tariff(), at=START + 1)
    assert e.value.field == "start"
    with pytest.raises(InputError) as e:
        Reservation("r2", "o", "p", "H100-80GB", 1, 8, start=10, end=5)
    assert e.value.field == "end"
