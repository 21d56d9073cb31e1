"""Property: random streams of top-ups, holds, settlements, cancels, expiries and reservations keep the books.

After every step: :meth:`Ledger.verify` passes (the entries alone reproduce every balance, and no point is
created or lost), no balance or available balance is below zero, every amount is a Decimal with 4 decimals,
and a refused operation leaves the ledger exactly as it was.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gpucloud.money.ledger import BudgetError, JobRun, Ledger, LedgerError
from gpucloud.money.points import is_points
from gpucloud.money.reservation import Reservation, ReservationTerms, book, cancel
from gpucloud.money.subsidy import Programme
from gpucloud.money.tariff import Tariff

D = Decimal
TARIFF = Tariff(
    "odd", 0.0,
    {"H100-80GB": D("0.9375"), "H200-141GB": D("1.3333")},
    {"standard": D(1), "shared": D("1.6"), "reserved": D("1.5"), "preemptible": D("0.5")},
    {"high": D("1.5"), "low": D("0.75")},
    minimum_seconds=60, increment_seconds=1,
)
PROGRAMME = Programme("academic", Fraction(1, 3), total=D("5"), org_cap=D("2.5"), org_kinds={"university"})
PROJECTS = ("p0", "p1", "p2")
ORGS = {"p0": ("uni-a", "university"), "p1": ("uni-b", "university"), "p2": ("acme", "company")}
TERMS = ReservationTerms(cancel_cutoff=600)

project = st.sampled_from(PROJECTS)
amount = st.integers(1, 1_000_000).map(lambda n: D(n).scaleb(-4))  # 0.0001 .. 100 points
op = st.one_of(
    st.tuples(st.just("top_up"), project, amount, st.booleans()),
    st.tuples(st.just("hold"), project, st.integers(1, 8), st.integers(1, 7200),
              st.sampled_from(["standard", "shared", "preemptible"]), st.sampled_from(["normal", "high", "low"]),
              st.booleans()),
    st.tuples(st.just("settle"), st.integers(0, 10), st.floats(0, 1.3)),
    st.tuples(st.just("cancel"), st.integers(0, 10)),
    st.tuples(st.just("expire"), project),
    st.tuples(st.just("cap"), project, st.none() | amount),
    st.tuples(st.just("book"), project, st.integers(1, 2), st.integers(60, 3600)),
    st.tuples(st.just("unbook"), st.integers(0, 10)),
    st.tuples(st.just("wait"), st.integers(1, 5000)),
    st.tuples(st.just("wait"), st.integers(1, 500)),
)


def check(led: Ledger) -> None:
    led.verify()
    for b in led.budgets.values():
        for v in (b.balance, b.held, b.spent, b.available):
            assert isinstance(v, Decimal) and is_points(v)
        assert b.balance >= 0 and b.held >= 0 and b.available >= 0
    for e in led.entries:
        assert isinstance(e.amount, Decimal) and isinstance(e.subsidy, Decimal)
    for v in led.programme_spent.values():
        assert 0 <= v <= PROGRAMME.total
    for v in led.programme_org_spent.values():
        assert 0 <= v <= D("2.5")


def apply(led: Ledger, step: tuple[Any, ...], now: float, n: int, books: list[Reservation]) -> Ledger:
    kind = step[0]
    if kind == "top_up":
        _, p, amt, sets_expiry = step
        return led.top_up(p, amt, now, expires_at=now + 300 if sets_expiry else None)
    if kind == "hold":
        _, p, gpus, wall, service, priority, subsidised = step
        org, org_kind = ORGS[p]
        gpu_type = "H100-80GB" if gpus % 2 else "H200-141GB"
        r = JobRun(f"j{n}#1", org, p, gpu_type, gpus, float(wall), now, TARIFF, service, priority, org_kind=org_kind)
        return led.hold(r, programme=PROGRAMME if subsidised else None)
    if kind in ("settle", "cancel"):
        refs = sorted(led.holds)
        if not refs:
            return led
        ref = refs[step[1] % len(refs)]
        if kind == "cancel":
            return led.release(ref, now)
        h = led.holds[ref]
        return led.settle(ref, min(now - h.run.started_at, h.run.walltime * step[2]), now)
    if kind == "expire":  # the service expires every budget it finds past its date; step[1] goes first
        for p in sorted(PROJECTS, key=lambda q: q != step[1]):
            led = led.expire(p, now)
        return led
    if kind == "cap":
        b = led.budget(step[1])
        return led.set_budget(step[1], cap=step[2], expires_at=b.expires_at)
    if kind == "book":
        _, p, nodes, length = step
        res = Reservation(f"r{n}", ORGS[p][0], p, "H100-80GB", nodes, 8, now + 1200, now + 1200 + length)
        led = book(led, res, TARIFF, now)
        books.append(res)
        return led
    if kind == "unbook":
        if not books:
            return led
        return cancel(led, books[step[1] % len(books)], now, TERMS)
    return led


@settings(max_examples=300, deadline=None)
@given(st.lists(op, min_size=1, max_size=60))
def test_random_streams_keep_the_books(steps: list[tuple[Any, ...]]) -> None:
    led = Ledger()
    for p in PROJECTS:
        led = led.top_up(p, D("15"), 0.0)
    now = 0.0
    books: list[Reservation] = []
    for n, step in enumerate(steps):
        now += 1 if step[0] != "wait" else step[1]
        before = led
        try:
            led = apply(led, step, now, n, books)
        except BudgetError:
            assert led is before  # refused: nothing written
        check(led)
    # ending every run still open leaves no points held anywhere
    for ref in sorted(led.holds):
        led = led.settle(ref, 0.0, now)
    check(led)
    assert all(b.held == 0 for b in led.budgets.values())


def test_property_catches_a_lost_refund() -> None:
    """The check above would fail if a settlement forgot to release its hold."""
    led = Ledger().top_up("p0", D("10"), 0).hold(
        JobRun("x#1", "uni-a", "p0", "H100-80GB", 1, 3600.0, 0.0, TARIFF))
    entries = led.settle("x#1", 60, 60).entries
    broken = Ledger(entries[:2] + entries[3:], led.budgets)
    try:
        broken.verify()
    except LedgerError:
        return
    raise AssertionError("verify() missed a charge with no release")
