"""The points ledger: an append-only list of entries per project, and the job lifecycle as pure operations.

Every operation returns a *new* :class:`Ledger` with the new entries appended (or raises and appends nothing);
nothing is ever changed or removed. Entry amounts are non-negative points; the kind gives the sign::

    balance   = top-ups − charges − expired + refunds          (per project)
    held      = holds − releases                                 (open holds of running jobs)
    available = balance − held                                   (what a new hold or booking may use)

The job lifecycle (one *run* of a job: a preempted job that restarts is a new run with a new ``ref``):

- :meth:`Ledger.hold` at start: the full requested walltime's cost, priced by the tariff in force at the start.
  With a subsidy programme the hold is split like a charge: the project holds its part, the programme its
  part. Refused with :class:`BudgetError` when the project's available balance (or its cap) cannot cover it.
- :meth:`Ledger.settle` at end (success, failure, timeout, cancel or preemption): RELEASE of the hold, CHARGE
  for the time the run actually used (never more than was held) with its subsidy part, and a SUBSIDY entry for
  the programme's part. The unused part of the hold is thereby back in the available balance.
- :meth:`Ledger.release` when a held run never started (launch failed): the hold is released, nothing charged.

Reservations use :meth:`Ledger.charge` and :meth:`Ledger.refund`; operators use :meth:`Ledger.top_up` and
:meth:`Ledger.set_budget`; :meth:`Ledger.expire` expires the available points of a budget past its expiry.
:meth:`Ledger.verify` recomputes everything from the entries alone and raises :class:`LedgerError` if any
invariant fails: money is never created or lost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import TypeVar

from gpucloud.errors import GpucloudError, InputError
from gpucloud.model.job import JobSpec
from gpucloud.model.priority import DEFAULT_PRIORITY_CLASS
from gpucloud.money.points import ZERO, is_points, points
from gpucloud.money.runs import charge_amount, covers, hold_amount
from gpucloud.money.subsidy import Programme, split
from gpucloud.money.tariff import DEFAULT_SERVICE_CLASS, Tariff, cost
from gpucloud.money.usage import ChargeRecord


class EntryKind(StrEnum):
    TOP_UP = "top_up"
    HOLD = "hold"
    RELEASE = "release"
    CHARGE = "charge"
    REFUND = "refund"
    EXPIRY = "expiry"
    SUBSIDY = "subsidy"


@dataclass(frozen=True)
class Entry:
    """One ledger line. ``amount`` is what the project's budget moves (≥ 0; the kind gives the sign).

    ``subsidy``/``programme``: on HOLD and RELEASE the programme's held part; on CHARGE the programme's part of
    the charge (the gross cost is ``amount + subsidy``); on SUBSIDY ``amount`` is the programme's payment.
    """

    seq: int
    at: float
    kind: EntryKind
    project: str
    amount: Decimal
    ref: str = ""
    org: str = ""
    subsidy: Decimal = ZERO
    programme: str = ""
    usage: ChargeRecord | None = None
    note: str = ""


@dataclass(frozen=True)
class JobRun:
    """What the ledger needs to price one run of a job. ``ref`` is unique per run (e.g. ``job-42#1``)."""

    ref: str
    org: str
    project: str
    gpu_type: str
    gpus: int
    walltime: float
    started_at: float
    tariff: Tariff
    service_class: str = DEFAULT_SERVICE_CLASS
    priority_class: str = DEFAULT_PRIORITY_CLASS
    user: str = ""
    org_kind: str = ""

    def __post_init__(self) -> None:
        if not self.ref:
            raise InputError("ref", "a run needs a unique reference", self.ref)
        if not math.isfinite(self.walltime) or self.walltime <= 0:
            raise InputError("walltime", "must be a positive number of seconds", self.walltime)
        if self.gpus < 1:
            raise InputError("gpus", "must be at least 1", self.gpus)

    @classmethod
    def of(cls, job: JobSpec, *, attempt: int, gpu_type: str, started_at: float, tariff: Tariff,
           service_class: str = DEFAULT_SERVICE_CLASS, priority_class: str = DEFAULT_PRIORITY_CLASS,
           org_kind: str = "") -> JobRun:
        """The run ``attempt`` of ``job`` on ``gpu_type`` (the type it was placed on), started at ``started_at``."""
        return cls(f"{job.id}#{attempt}", job.org, job.project, gpu_type, job.num_gpus, job.walltime, started_at,
                   tariff, service_class, priority_class, job.user, org_kind)

    def cost(self, seconds: float) -> Decimal:
        return cost(self.tariff, self.gpu_type, self.gpus, seconds, self.service_class, self.priority_class)


@dataclass(frozen=True)
class Hold:
    """An open hold: the run, the project's held part, the programme's held part."""

    run: JobRun
    amount: Decimal
    subsidy: Decimal = ZERO
    programme: Programme | None = None

    @property
    def gross(self) -> Decimal:
        return self.amount + self.subsidy


@dataclass(frozen=True)
class Budget:
    """A project's budget. ``spent`` (charges − refunds since the last expiry) plus ``held`` may not pass
    ``cap``; points still available at ``expires_at`` expire (:meth:`Ledger.expire`)."""

    project: str
    balance: Decimal = ZERO
    held: Decimal = ZERO
    spent: Decimal = ZERO
    cap: Decimal | None = None
    expires_at: float | None = None

    @property
    def available(self) -> Decimal:
        return self.balance - self.held

    @property
    def headroom(self) -> Decimal | None:
        """What the cap still allows to be held or charged (None: no cap)."""
        return None if self.cap is None else self.cap - self.spent - self.held

    def expired(self, at: float) -> bool:
        return self.expires_at is not None and at >= self.expires_at


class LedgerError(GpucloudError):
    """An operation that the ledger's rules forbid, or an invariant that :meth:`Ledger.verify` found broken."""


class BudgetError(GpucloudError):
    """A hold or charge the project's budget cannot cover. ``reason`` is the wait reason shown to users."""

    reason = "budget"

    def __init__(self, project: str, needed: Decimal, available: Decimal, why: str) -> None:
        self.project = project
        self.needed = needed
        self.available = available
        super().__init__(f"budget: project {project!r} {why}: needs {needed} points, has {available}")


def _check_amount(name: str, amount: Decimal, *, positive: bool = False) -> None:
    if not is_points(amount) or amount < 0 or (positive and amount == 0):
        raise InputError(name, f"must be a {'positive' if positive else 'non-negative'} Decimal amount of "
                               "points with at most 4 decimals", amount)


_K = TypeVar("_K")
_V = TypeVar("_V")


def _frozen(d: dict[_K, _V]) -> Mapping[_K, _V]:
    return MappingProxyType(d)


@dataclass(frozen=True)
class Ledger:
    """An append-only ledger and the state derived from it (kept in step by every operation)."""

    entries: tuple[Entry, ...] = ()
    budgets: Mapping[str, Budget] = field(default_factory=dict)
    holds: Mapping[str, Hold] = field(default_factory=dict)
    #: Per programme name: committed subsidy (settled + held).
    programme_spent: Mapping[str, Decimal] = field(default_factory=dict)
    #: Per (programme name, org): committed subsidy.
    programme_org_spent: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)

    # -- reading ---------------------------------------------------------------------------------------------

    def budget(self, project: str) -> Budget:
        return self.budgets.get(project) or Budget(project)

    def balance(self, project: str) -> Decimal:
        return self.budget(project).balance

    def available(self, project: str) -> Decimal:
        return self.budget(project).available

    def usage_records(self) -> list[ChargeRecord]:
        """The charge records of settled runs, for :mod:`gpucloud.money.usage`."""
        return [e.usage for e in self.entries if e.kind is EntryKind.CHARGE and e.usage is not None]

    # -- writing ---------------------------------------------------------------------------------------------

    def _append(self, new: list[Entry], *, budgets: dict[str, Budget] | None = None,
                holds: dict[str, Hold] | None = None, prog: dict[str, Decimal] | None = None,
                prog_org: dict[tuple[str, str], Decimal] | None = None) -> Ledger:
        return Ledger(
            self.entries + tuple(new),
            _frozen(budgets) if budgets is not None else self.budgets,
            _frozen(holds) if holds is not None else self.holds,
            _frozen(prog) if prog is not None else self.programme_spent,
            _frozen(prog_org) if prog_org is not None else self.programme_org_spent,
        )

    def _entry(self, offset: int, **kw: object) -> Entry:
        return Entry(seq=len(self.entries) + 1 + offset, **kw)  # type: ignore[arg-type]

    def _with_budget(self, b: Budget) -> dict[str, Budget]:
        out = dict(self.budgets)
        out[b.project] = b
        return out

    def set_budget(self, project: str, *, cap: Decimal | None, expires_at: float | None) -> Ledger:
        """Set a project's cap and expiry, both (None: none); configuration, not money: no entry is written."""
        if cap is not None:
            _check_amount("cap", cap)
        if expires_at is not None and not math.isfinite(expires_at):
            raise InputError("expires_at", "must be a finite UTC epoch second", expires_at)
        b = replace(self.budget(project), cap=cap, expires_at=expires_at)
        return self._append([], budgets=self._with_budget(b))

    def top_up(self, project: str, amount: Decimal, at: float, *, org: str = "", note: str = "",
               expires_at: float | None = None) -> Ledger:
        """Add points to a project's budget (operator); ``expires_at`` given sets a new expiry date."""
        _check_amount("amount", amount, positive=True)
        b = self.budget(project)
        b = replace(b, balance=b.balance + amount, expires_at=b.expires_at if expires_at is None else expires_at)
        e = self._entry(0, at=at, kind=EntryKind.TOP_UP, project=project, amount=amount, org=org, note=note)
        return self._append([e], budgets=self._with_budget(b))

    def _can_spend(self, b: Budget, amount: Decimal, at: float) -> None:
        if b.expired(at):
            raise BudgetError(b.project, amount, ZERO, f"budget expired at {b.expires_at}")
        if not covers(b.available, amount):
            raise BudgetError(b.project, amount, b.available, "cannot cover it")
        room = b.headroom
        if room is not None and amount > room:
            raise BudgetError(b.project, amount, room, "would pass its cap")

    def hold(self, run: JobRun, at: float | None = None, programme: Programme | None = None) -> Ledger:
        """Hold the cost of ``run``'s full walltime (at its start unless ``at`` is given)."""
        at = run.started_at if at is None else at
        if run.ref in self.holds:
            raise LedgerError(f"run {run.ref!r} already holds points")
        gross = hold_amount(run.walltime, run.cost)
        subsidy, amount = ZERO, gross
        prog = programme if programme is not None and programme.eligible(run.org, run.org_kind) else None
        if prog is not None:
            subsidy, amount = split(gross, prog, self.programme_spent.get(prog.name, ZERO),
                                    self.programme_org_spent.get((prog.name, run.org), ZERO))
        b = self.budget(run.project)
        self._can_spend(b, amount, at)
        e = self._entry(0, at=at, kind=EntryKind.HOLD, project=run.project, amount=amount, ref=run.ref,
                        org=run.org, subsidy=subsidy, programme=prog.name if prog else "")
        holds = dict(self.holds)
        holds[run.ref] = Hold(run, amount, subsidy, prog)
        ps, pos = self._programme_delta(prog, run.org, subsidy)
        return self._append([e], budgets=self._with_budget(replace(b, held=b.held + amount)), holds=holds,
                            prog=ps, prog_org=pos)

    def _programme_delta(self, prog: Programme | None, org: str, delta: Decimal
                         ) -> tuple[dict[str, Decimal] | None, dict[tuple[str, str], Decimal] | None]:
        if prog is None or delta == 0:
            return None, None
        ps = dict(self.programme_spent)
        ps[prog.name] = ps.get(prog.name, ZERO) + delta
        pos = dict(self.programme_org_spent)
        pos[(prog.name, org)] = pos.get((prog.name, org), ZERO) + delta
        return ps, pos

    def _open(self, ref: str) -> Hold:
        try:
            return self.holds[ref]
        except KeyError:
            raise LedgerError(f"run {ref!r} holds no points (never held, or already settled)") from None

    def settle(self, ref: str, used_seconds: float, at: float) -> Ledger:
        """End run ``ref`` after ``used_seconds`` of running: charge that time, give back the rest of the hold.

        The charge is priced by the run's tariff (the one in force at its start) and never exceeds what was
        held: time past the requested walltime (a late kill, a checkpoint grace) is not charged.
        """
        if not math.isfinite(used_seconds) or used_seconds < 0:
            raise InputError("used_seconds", "must be a finite, non-negative number of seconds", used_seconds)
        h = self._open(ref)
        run = h.run
        gross = charge_amount(used_seconds, run.walltime, h.gross, run.cost)
        if h.programme is not None:
            wanted = min(points(h.programme.share * Fraction(gross)), h.subsidy)
            amount = min(gross - wanted, h.amount)
        else:
            amount = gross
        subsidy = gross - amount
        record = ChargeRecord(run.org, run.project, run.user, run.gpu_type, run.started_at,
                              run.started_at + used_seconds, run.gpus, gross, subsidy)
        pname = h.programme.name if h.programme else ""
        new = [
            self._entry(0, at=at, kind=EntryKind.RELEASE, project=run.project, amount=h.amount, ref=ref,
                        org=run.org, subsidy=h.subsidy, programme=pname),
            self._entry(1, at=at, kind=EntryKind.CHARGE, project=run.project, amount=amount, ref=ref,
                        org=run.org, subsidy=subsidy, programme=pname, usage=record),
        ]
        if subsidy:
            new.append(self._entry(2, at=at, kind=EntryKind.SUBSIDY, project=run.project, amount=subsidy,
                                   ref=ref, org=run.org, programme=pname))
        b = self.budget(run.project)
        b = replace(b, balance=b.balance - amount, held=b.held - h.amount, spent=b.spent + amount)
        holds = dict(self.holds)
        del holds[ref]
        ps, pos = self._programme_delta(h.programme, run.org, subsidy - h.subsidy)
        return self._append(new, budgets=self._with_budget(b), holds=holds, prog=ps, prog_org=pos)

    def release(self, ref: str, at: float, note: str = "") -> Ledger:
        """Release the hold of a run that never started: nothing is charged."""
        h = self._open(ref)
        e = self._entry(0, at=at, kind=EntryKind.RELEASE, project=h.run.project, amount=h.amount, ref=ref,
                        org=h.run.org, subsidy=h.subsidy, programme=h.programme.name if h.programme else "",
                        note=note)
        b = self.budget(h.run.project)
        holds = dict(self.holds)
        del holds[ref]
        ps, pos = self._programme_delta(h.programme, h.run.org, -h.subsidy)
        return self._append([e], budgets=self._with_budget(replace(b, held=b.held - h.amount)), holds=holds,
                            prog=ps, prog_org=pos)

    def charge(self, project: str, ref: str, amount: Decimal, at: float, *, org: str = "",
               note: str = "") -> Ledger:
        """Charge ``amount`` now (a reservation booked); refused with :class:`BudgetError` if not covered."""
        _check_amount("amount", amount)
        if not ref:
            raise InputError("ref", "a charge needs a reference (e.g. the reservation id)", ref)
        b = self.budget(project)
        self._can_spend(b, amount, at)
        e = self._entry(0, at=at, kind=EntryKind.CHARGE, project=project, amount=amount, ref=ref, org=org,
                        note=note)
        return self._append([e], budgets=self._with_budget(replace(b, balance=b.balance - amount,
                                                                     spent=b.spent + amount)))

    def charged(self, project: str, ref: str) -> Decimal:
        """What the charges of ``ref`` took from ``project``, less what was refunded on it."""
        out = ZERO
        for e in self.entries:
            if e.ref == ref and e.project == project:
                if e.kind is EntryKind.CHARGE:
                    out += e.amount
                elif e.kind is EntryKind.REFUND:
                    out -= e.amount
        return out

    def refund(self, project: str, ref: str, amount: Decimal, at: float, *, note: str = "") -> Ledger:
        """Give back ``amount`` of what ``ref`` was charged (a reservation cancelled in time)."""
        _check_amount("amount", amount)
        left = self.charged(project, ref)
        if amount > left:
            raise LedgerError(f"refund of {amount} on {ref!r} exceeds what is left of its charges ({left})")
        b = self.budget(project)
        e = self._entry(0, at=at, kind=EntryKind.REFUND, project=project, amount=amount, ref=ref, note=note)
        return self._append([e], budgets=self._with_budget(replace(b, balance=b.balance + amount,
                                                                     spent=max(ZERO, b.spent - amount))))

    def expire(self, project: str, at: float) -> Ledger:
        """At or after the budget's expiry, expire its available points (held points stay with their runs).

        Points a run gives back after the expiry stay until the next call. The EXPIRY entry also ends the
        cap's period (``spent`` restarts at 0). Returns the ledger unchanged before the expiry, or when there
        is neither anything to expire nor any spending to restart.
        """
        b = self.budget(project)
        amount = b.available
        if not b.expired(at) or (amount == 0 and b.spent == 0):
            return self
        e = self._entry(0, at=at, kind=EntryKind.EXPIRY, project=project, amount=amount,
                        note=f"expired at {b.expires_at}")
        return self._append([e], budgets=self._with_budget(replace(b, balance=b.balance - amount, spent=ZERO)))

    # -- checking --------------------------------------------------------------------------------------------

    def verify(self) -> None:
        """Recompute everything from the entries alone; raise :class:`LedgerError` on the first broken rule."""
        from gpucloud.money.verify import verify

        verify(self)
