"""Ledger invariants, checked by replaying the entries alone (see :meth:`gpucloud.money.ledger.Ledger.verify`).

Checked after every entry: amounts are Decimal points (4 decimals, ≥ 0, top-ups > 0); sequence numbers run
1, 2, 3, ...; a hold opens only once and its release matches it exactly; a run's charge and its subsidy part
never exceed what it held; a SUBSIDY entry equals the subsidy part of the charge it follows; refunds never
exceed the charges of their reference; balance, held and available never go below zero; no programme's
committed subsidy goes below zero or past its total. At the end: the state the operations kept (balances,
holds, spending, programme totals) equals the replayed one, and the books balance in total:
top-ups + refunds = Σ balances + charges + expired.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, NoReturn

from gpucloud.money.points import ZERO, is_points

if TYPE_CHECKING:
    from gpucloud.money.ledger import Entry, Ledger


def _fail(e: Entry | None, msg: str) -> NoReturn:
    from gpucloud.money.ledger import LedgerError

    where = f"entry {e.seq} ({e.kind}, project {e.project!r}, ref {e.ref!r}): " if e else "ledger: "
    raise LedgerError(where + msg)


def verify(ledger: Ledger) -> None:
    from gpucloud.money.ledger import EntryKind as K

    balance: dict[str, Decimal] = defaultdict(lambda: ZERO)
    held: dict[str, Decimal] = defaultdict(lambda: ZERO)
    spent: dict[str, Decimal] = defaultdict(lambda: ZERO)
    open_holds: dict[str, Entry] = {}
    charged: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    prog: dict[str, Decimal] = defaultdict(lambda: ZERO)
    prog_org: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    totals: dict[K, Decimal] = defaultdict(lambda: ZERO)
    last: Entry | None = None
    for i, e in enumerate(ledger.entries):
        if e.seq != i + 1:
            _fail(e, f"sequence number should be {i + 1}")
        for name in ("amount", "subsidy"):
            v = getattr(e, name)
            if not is_points(v) or v < 0:
                _fail(e, f"{name} {v!r} is not a non-negative Decimal amount of points")
        if e.kind is K.TOP_UP and e.amount == 0:
            _fail(e, "a top-up must be positive")
        if e.kind not in (K.HOLD, K.RELEASE, K.CHARGE) and e.subsidy:
            _fail(e, "only holds, releases and charges carry a subsidy part")
        p = e.project
        totals[e.kind] += e.amount
        if e.kind is K.TOP_UP:
            balance[p] += e.amount
        elif e.kind is K.HOLD:
            if e.ref in open_holds:
                _fail(e, "this run already holds points")
            open_holds[e.ref] = e
            held[p] += e.amount
        elif e.kind is K.RELEASE:
            h = open_holds.pop(e.ref, None)
            if h is None:
                _fail(e, "releases a hold that is not open")
            elif (h.project, h.amount, h.subsidy, h.programme) != (p, e.amount, e.subsidy, e.programme):
                _fail(e, f"does not match its hold (entry {h.seq})")
            held[p] -= e.amount
        elif e.kind is K.CHARGE:
            r = last if last is not None and last.kind is K.RELEASE and last.ref == e.ref else None
            if r is not None:
                if e.amount + e.subsidy > r.amount + r.subsidy or e.subsidy > r.subsidy:
                    _fail(e, f"charges more than was held (entry {r.seq})")
            elif e.subsidy:
                _fail(e, "a subsidised charge must settle a hold")
            balance[p] -= e.amount
            spent[p] += e.amount
            charged[(p, e.ref)] += e.amount
        elif e.kind is K.SUBSIDY:
            if last is None or last.kind is not K.CHARGE or last.ref != e.ref or last.subsidy != e.amount \
                    or last.programme != e.programme:
                _fail(e, "must follow the charge whose subsidy part it pays, with the same amount")
        elif e.kind is K.REFUND:
            charged[(p, e.ref)] -= e.amount
            if charged[(p, e.ref)] < 0:
                _fail(e, "refunds more than was charged on this reference")
            balance[p] += e.amount
            spent[p] = max(ZERO, spent[p] - e.amount)
        elif e.kind is K.EXPIRY:
            balance[p] -= e.amount
            spent[p] = ZERO
        if e.programme:
            delta = {K.HOLD: e.subsidy, K.RELEASE: -e.subsidy, K.SUBSIDY: e.amount}.get(e.kind, ZERO)
            prog[e.programme] += delta
            prog_org[(e.programme, e.org)] += delta
            if prog[e.programme] < 0 or prog_org[(e.programme, e.org)] < 0:
                _fail(e, f"programme {e.programme!r} committed below zero")
        if balance[p] < 0 or held[p] < 0 or balance[p] - held[p] < 0:
            _fail(e, f"balance {balance[p]}, held {held[p]}: a budget went below zero")
        last = e

    for name, b in ledger.budgets.items():
        got = (b.balance, b.held, b.spent)
        want = (balance[name], held[name], spent[name])
        if got != want:
            _fail(None, f"project {name!r}: kept (balance, held, spent) {got} but the entries give {want}")
    for name in balance:
        if balance[name] and name not in ledger.budgets:
            _fail(None, f"project {name!r} has entries but no budget state")
    if set(ledger.holds) != set(open_holds):
        _fail(None, f"open holds kept {sorted(ledger.holds)} but the entries give {sorted(open_holds)}")
    for ref, kept in ledger.holds.items():
        if (kept.amount, kept.subsidy) != (open_holds[ref].amount, open_holds[ref].subsidy):
            _fail(None, f"hold {ref!r}: kept ({kept.amount}, {kept.subsidy}) differs from its entry")
    if {k: v for k, v in ledger.programme_spent.items() if v} != {k: v for k, v in prog.items() if v}:
        _fail(None, "programme totals kept differ from the entries")
    if {k: v for k, v in ledger.programme_org_spent.items() if v} != {k: v for k, v in prog_org.items() if v}:
        _fail(None, "programme per-org totals kept differ from the entries")
    for kept in ledger.holds.values():
        prg = kept.programme
        if prg is not None and (prog[prg.name] > prg.total or
                                (prg.org_cap is not None and prog_org[(prg.name, kept.run.org)] > prg.org_cap)):
            _fail(None, f"programme {prg.name!r} committed past its total or an org's cap")
    inflow = totals[K.TOP_UP] + totals[K.REFUND]
    outflow = sum(balance.values(), ZERO) + totals[K.CHARGE] + totals[K.EXPIRY]
    if inflow != outflow:
        _fail(None, f"points created or lost: top-ups + refunds = {inflow}, balances + charges + expired = "
                    f"{outflow}")
    subs = sum((e.subsidy for e in ledger.entries if e.kind is K.CHARGE), ZERO)
    if subs != totals[K.SUBSIDY]:
        _fail(None, f"subsidy parts of charges {subs} differ from subsidies paid {totals[K.SUBSIDY]}")
