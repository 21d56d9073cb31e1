"""Subsidy programmes in the service: stored terms, what each has committed (from the ledger), which one pays.

A programme (:class:`gpucloud.money.subsidy.Programme`) pays ``share`` of the cost of eligible runs, up to
``total`` and, per org, ``org_cap``. Its terms are a row in ``programmes``; what it has **paid** (SUBSIDY
entries) and **holds** (the programme's part of open holds: HOLD − RELEASE) is always summed from the
ledger, never kept in a counter. Its **committed** amount is paid + held, and what a new hold may use is
``total − committed`` (and ``org_cap`` − the org's committed).

**At most one programme per run**: :func:`choose` picks, in name order, the first programme that is in force
at the run's start (``valid_from <= start < valid_until``, either end open), that the run's org is eligible
for (named in ``orgs``, or its kind in ``org_kinds``), and that still has room for that org (neither its total
nor the org's cap reached). The hold is split there (:meth:`gpucloud.money.Ledger.hold`), and the run keeps
that programme, at the share it had then, until it settles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.money.ledger import EntryKind, Ledger
from gpucloud.money.points import QUANTUM, ZERO
from gpucloud.money.subsidy import Programme
from gpucloud.service.store.engine import is_postgres
from gpucloud.service.store.errors import Conflict, NotFound
from gpucloud.service.store.models import OrgRow, ProgrammeRow, ProgrammeTotalRow

# --- parsing ---------------------------------------------------------------------------------------------------


#: The longest a share may be written as an exact fraction (``"1/3"``); the database keeps it as that text.
MAX_SHARE_CHARS = 40


def parse_share(text: str, field: str = "share") -> Fraction:
    """``"1/2"``, ``"0.5"`` or ``"1"`` → an exact fraction between 0 and 1."""
    try:
        share = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(field, "must be a fraction like 1/2 or a decimal like 0.5", text) from None
    if not 0 <= share <= 1:
        raise InputError(field, "must be between 0 and 1", text)
    if len(str(share)) > MAX_SHARE_CHARS:
        raise InputError(field, f"is too fine: as a fraction it must fit in {MAX_SHARE_CHARS} characters", text)
    return share


def parse_points(field: str, text: str) -> Decimal:
    """A non-negative amount of points with at most 4 decimals (below 10^16), from its decimal text."""
    try:
        value = Decimal(str(text).strip())
        ok = value.is_finite() and 0 <= value < 10**16 and value == value.quantize(QUANTUM)
    except InvalidOperation:
        ok = False
    if not ok:
        raise InputError(field, "must be a non-negative decimal number of points with at most 4 decimals", text)
    return value.quantize(QUANTUM)


# --- terms -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """A programme and the window in which runs that start may use it (None: open)."""

    programme: Programme
    valid_from: float | None = None
    valid_until: float | None = None

    def in_force(self, at: float) -> bool:
        return (self.valid_from is None or at >= self.valid_from) and (self.valid_until is None
                                                                         or at < self.valid_until)


def programme_of(row: ProgrammeRow) -> Programme:
    return Programme(row.name, Fraction(row.share), row.total, row.org_cap, frozenset(row.orgs),
                     frozenset(row.org_kinds))


def offer_of(row: ProgrammeRow) -> Offer:
    return Offer(programme_of(row), row.valid_from, row.valid_until)


def list_rows(session: Session, lock: bool = False, names: Iterable[str] | None = None) -> list[ProgrammeRow]:
    """The programmes by name (only ``names`` if given); locked FOR UPDATE on PostgreSQL with ``lock``."""
    stmt = select(ProgrammeRow).order_by(ProgrammeRow.name)
    if names is not None:
        stmt = stmt.where(ProgrammeRow.name.in_(sorted(set(names))))
    if lock and is_postgres(session):
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


def find(session: Session, name: str) -> ProgrammeRow:
    row = session.scalar(select(ProgrammeRow).where(ProgrammeRow.name == name))
    if row is None:
        raise NotFound("programme", name)
    return row


def _check_window(valid_from: float | None, valid_until: float | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise InputError("valid_until", "must be after valid_from", valid_until)


def _check_orgs(session: Session, orgs: Sequence[str]) -> None:
    known = set(session.scalars(select(OrgRow.name)))
    for i, name in enumerate(orgs):
        if name not in known:
            raise InputError(f"orgs[{i}]", "no such org", name)


def create(session: Session, *, name: str, share: Fraction, total: Decimal, now: float,
           org_cap: Decimal | None = None, orgs: Sequence[str] = (), org_kinds: Sequence[str] = (),
           valid_from: float | None = None, valid_until: float | None = None) -> ProgrammeRow:
    """A new programme (operator); 409 if the name is taken."""
    if session.scalar(select(ProgrammeRow.id).where(ProgrammeRow.name == name)) is not None:
        raise Conflict(f"programme {name!r} already exists")
    _check_window(valid_from, valid_until)
    _check_orgs(session, orgs)
    Programme(name, share, total, org_cap)  # the pure rule's checks
    row = ProgrammeRow(name=name, share=str(share), total=total, org_cap=org_cap, orgs=sorted(set(orgs)),
                       org_kinds=sorted(set(org_kinds)), valid_from=valid_from, valid_until=valid_until,
                       created_at=now)
    session.add(row)
    session.flush()
    return row


def update(session: Session, name: str, changes: dict[str, Any]) -> ProgrammeRow:
    """Change some terms (operator). ``total`` and ``org_cap`` may not go below what is committed already;
    runs holding a subsidy keep the share they started with."""
    row = list_rows(session, lock=True, names=[name])
    if not row:
        raise NotFound("programme", name)
    r = row[0]
    if "orgs" in changes:
        _check_orgs(session, changes["orgs"])
        changes["orgs"] = sorted(set(changes["orgs"]))
    if "org_kinds" in changes:
        changes["org_kinds"] = sorted(set(changes["org_kinds"]))
    if "share" in changes:
        changes["share"] = str(changes["share"])
    _check_window(changes.get("valid_from", r.valid_from), changes.get("valid_until", r.valid_until))
    c = commitments(session, [name])
    if "total" in changes and changes["total"] < c.committed(name):
        raise InputError("total", f"below what the programme has committed already ({c.committed(name)})",
                         str(changes["total"]))
    if changes.get("org_cap") is not None:
        most = max((v for (p, _), v in c.org_committed().items() if p == name), default=ZERO)
        if changes["org_cap"] < most:
            raise InputError("org_cap", f"below what one org has committed already ({most})",
                             str(changes["org_cap"]))
    for key, value in changes.items():
        setattr(r, key, value)
    session.flush()
    return r


# --- what the ledger says ------------------------------------------------------------------------------------


@dataclass
class Commitments:
    """Per programme and per (programme, org): points paid (SUBSIDY entries) and held (open holds' parts)."""

    paid: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    held: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def add(self, programme: str, org: str, kind: EntryKind, amount: Decimal, subsidy: Decimal) -> None:
        key = (programme, org)
        if kind is EntryKind.SUBSIDY:
            self.paid[key] = self.paid.get(key, ZERO) + amount
        elif kind is EntryKind.HOLD:
            self.held[key] = self.held.get(key, ZERO) + subsidy
        elif kind is EntryKind.RELEASE:
            self.held[key] = self.held.get(key, ZERO) - subsidy

    def _total(self, d: dict[tuple[str, str], Decimal], programme: str) -> Decimal:
        return sum((v for (p, _), v in d.items() if p == programme), ZERO)

    def paid_by(self, programme: str) -> Decimal:
        return self._total(self.paid, programme)

    def held_by(self, programme: str) -> Decimal:
        return self._total(self.held, programme)

    def committed(self, programme: str) -> Decimal:
        return self.paid_by(programme) + self.held_by(programme)

    def org_committed(self) -> dict[tuple[str, str], Decimal]:
        out = dict(self.paid)
        for k, v in self.held.items():
            out[k] = out.get(k, ZERO) + v
        return out

    def totals(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for (p, _), v in self.org_committed().items():
            out[p] = out.get(p, ZERO) + v
        return out


def commitments(session: Session, names: Iterable[str] | None = None) -> Commitments:
    """What the programmes (``names``, else all) have paid and hold: their running totals per org (kept with
    the entries by :func:`gpucloud.service.budgets.append`; ``Ledger.verify`` over the entries checks them)."""
    stmt = select(ProgrammeTotalRow)
    if names is not None:
        stmt = stmt.where(ProgrammeTotalRow.programme.in_(sorted(set(names))))
    out = Commitments()
    for r in session.scalars(stmt):
        out.paid[(r.programme, r.org)] = r.paid
        out.held[(r.programme, r.org)] = r.held
    return out


def add_to_totals(session: Session, delta: Commitments) -> None:
    """Add ``delta`` to the stored totals, the rows locked (PostgreSQL) in key order, after the budget rows."""
    keys = sorted(set(delta.paid) | set(delta.held))
    if not keys:
        return
    ins = pg_insert(ProgrammeTotalRow) if is_postgres(session) else sqlite_insert(ProgrammeTotalRow)
    session.execute(ins.on_conflict_do_nothing(), [{"programme": p, "org": o, "paid": ZERO, "held": ZERO}
                                                   for p, o in keys])
    stmt = select(ProgrammeTotalRow).where(tuple_(ProgrammeTotalRow.programme, ProgrammeTotalRow.org).in_(keys))
    if is_postgres(session):
        stmt = stmt.order_by(ProgrammeTotalRow.programme, ProgrammeTotalRow.org).with_for_update()
    for r in session.scalars(stmt):
        key = (r.programme, r.org)
        r.paid += delta.paid.get(key, ZERO)
        r.held += delta.held.get(key, ZERO)


def with_commitments(ledger: Ledger, c: Commitments) -> Ledger:
    """``ledger`` with its programme totals set from ``c`` (what :meth:`Ledger.hold` splits against)."""
    per_org = {k: v for k, v in c.org_committed().items() if v}
    totals = {k: v for k, v in c.totals().items() if v}
    return dataclasses.replace(ledger, programme_spent=totals, programme_org_spent=per_org)


def has_room(p: Programme, ledger: Ledger, org: str) -> bool:
    room = p.total - ledger.programme_spent.get(p.name, ZERO)
    if p.org_cap is not None:
        room = min(room, p.org_cap - ledger.programme_org_spent.get((p.name, org), ZERO))
    return room > 0


def choose(offers: Sequence[Offer], ledger: Ledger, org: str, org_kind: str, at: float) -> Programme | None:
    """The programme that pays for a run of ``org`` starting at ``at``: the first in name order that is in
    force, eligible and has room (see the module docstring); None: the project pays all."""
    for o in sorted(offers, key=lambda o: o.programme.name):
        p = o.programme
        if o.in_force(at) and p.eligible(org, org_kind) and has_room(p, ledger, org):
            return p
    return None
