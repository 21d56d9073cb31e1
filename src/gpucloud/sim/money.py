"""Costs and budgets in a replay, with the rules of :mod:`gpucloud.money` and of the live service.

* **Time.** Trace time 0 (the first submit) is the UTC epoch second :attr:`MoneyConfig.trace_start` (default:
  the ``valid_from`` of the first tariff); a run that starts at trace time ``t`` is priced by
  ``tariffs.in_force(trace_start + t)`` for its whole length.
* **Pricing.** Every run segment (one start of a job, until it ends or is preempted) is one
  :class:`gpucloud.money.JobRun` (ref ``<job>#<n>``) charged ``cost(seconds it held its GPUs)`` at the ``standard``
  service class and the priority class of the job's priority (:func:`priority_class`), with
  :func:`gpucloud.money.tariff.cost`. As in :meth:`gpucloud.money.Ledger.settle`, a run never pays for more than its
  walltime (:func:`gpucloud.money.runs.charge_amount`). Costs are memoised (most runs of a trace repeat a few sizes
  and lengths).
* **Budgets** (org → starting points; orgs left out are not limited). With the rules of :mod:`gpucloud.money.runs`,
  as :meth:`Ledger.hold` and :meth:`Ledger.settle`: a run's start holds the cost of its full walltime; a start the
  org's available points (balance − holds) cannot cover is refused: the simulator undoes the admission and the job
  waits, outside the scheduler's queue, with reason ``budget``. At the end of a run the time used is charged and the
  rest of the hold given back; the org's waiting jobs go back to the queue, smallest hold first, as many as its
  available points cover together. A replay has no top-ups, so an org that ran dry stays dry unless its running jobs
  give points back (or a cheaper tariff version starts: waiting jobs are repriced then).

The accounts mirror :class:`gpucloud.money.Ledger` (whose immutable, append-only form is too slow for a replay
of 100,000 jobs); with ``keep_ledger`` every hold and settle is applied to a real ``Ledger`` too, so a test
can :meth:`~gpucloud.money.Ledger.verify` it and compare balances.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from gpucloud.core.types import PendingJob
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec
from gpucloud.model.priority import PRIORITY_CLASSES
from gpucloud.money.ledger import JobRun, Ledger
from gpucloud.money.points import ZERO, is_points, points
from gpucloud.money.runs import charge_amount, covers, hold_amount
from gpucloud.money.tariff import DEFAULT_SERVICE_CLASS, Tariff, TariffBook, cost, priced_class
from gpucloud.sim.money_report import CostRow, MoneyReport, OrgMoney, gpu_hours
from gpucloud.sim.records import JobRecord

_CLASSES = sorted(PRIORITY_CLASSES.items(), key=lambda kv: kv[1])
_CLASS_OF: dict[int, str] = {}


def priority_class(priority: int) -> str:
    """The priority class a job's integer priority is charged at: the highest class at or below it (the lowest
    class for a priority below all): 0 → ``normal``, 15 → ``high``, -3 → ``low``."""
    name = _CLASS_OF.get(priority)
    if name is None:
        name = _CLASSES[0][0]
        for cls, value in _CLASSES:
            if value <= priority:
                name = cls
        _CLASS_OF[priority] = name
    return name


def gpu_types_used(cluster: Cluster, specs: Iterable[JobSpec]) -> tuple[list[str], list[str]]:
    """``(types with GPUs, types the jobs may run on)`` of ``cluster`` (any type for a job that names none)."""
    with_gpus = [t for t, n in cluster.max_node_gpus.items() if n > 0]
    asked = {s.gpu_type for s in specs}
    return with_gpus, (with_gpus if None in asked else sorted(t for t in asked if t is not None))


@dataclass(frozen=True)
class MoneyConfig:
    """What a replay is priced with: the tariff versions, optional budgets, the date of trace time 0."""

    tariffs: TariffBook
    #: org → starting points (Decimal, ≥ 0, at most 4 decimals); orgs not named are not limited.
    budgets: Mapping[str, Decimal] | None = None
    #: The UTC epoch second of trace time 0; None: the first tariff's ``valid_from``.
    trace_start: float | None = None
    #: Also keep a real :class:`Ledger` of the budgeted orgs' holds and settles (tests; slow on big traces).
    keep_ledger: bool = False

    def __post_init__(self) -> None:
        first = self.tariffs.tariffs[0]
        if self.trace_start is not None:
            if not math.isfinite(self.trace_start):
                raise InputError("trace_start", "must be a finite UTC epoch second", self.trace_start)
            if self.trace_start < first.valid_from:
                raise InputError("trace_start", f"is before the first tariff {first.name!r} starts "
                                 f"({first.valid_from})", self.trace_start)
        for org, amount in (self.budgets or {}).items():
            if not is_points(amount) or amount < 0:
                raise InputError(f"budgets.{org}", "must be a non-negative Decimal with at most 4 decimals", amount)

    @property
    def start(self) -> float:
        return self.tariffs.tariffs[0].valid_from if self.trace_start is None else self.trace_start

    def check_priced(self, gpu_types: Iterable[str]) -> None:
        """Raise :class:`InputError` if a tariff version lacks a price for one of ``gpu_types`` (the types the
        replay's jobs may run on) or the ``standard`` service class."""
        needed = sorted(set(gpu_types))
        for t in self.tariffs.tariffs:
            for g in needed:
                if g not in t.points_per_gpu_hour:
                    raise InputError("points_per_gpu_hour", f"tariff {t.name!r} has no price for a GPU type the "
                                     "jobs may run on", g)
            if DEFAULT_SERVICE_CLASS not in t.service_multipliers:
                raise InputError("service_classes", f"tariff {t.name!r} must offer {DEFAULT_SERVICE_CLASS!r}, "
                                 "the class replayed runs are charged at", sorted(t.service_multipliers))


@dataclass(slots=True)
class _Open:
    """An open run: what :class:`JobRun` holds (built only for the ledger), start in trace time, its hold."""

    spec: JobSpec
    attempt: int
    gpu_type: str
    tariff: Tariff
    prio: str
    start: float
    held: Decimal
    #: the service class it is charged at (``shared`` for part of one node, where the tariff has it)
    service: str = DEFAULT_SERVICE_CLASS

    def job_run(self, trace_start: float) -> JobRun:
        s = self.spec
        return JobRun(f"{s.id}#{self.attempt}", s.org, s.org, self.gpu_type, s.num_gpus, s.walltime,
                      trace_start + self.start, self.tariff, service_class=self.service, priority_class=self.prio,
                      user=s.user)


@dataclass(slots=True)
class _Acc:
    runs: int = 0
    gpu_seconds: float = 0.0
    points: Decimal = ZERO


@dataclass(slots=True)
class _Org:
    """A budgeted org's account: ``balance − held`` is available; ``waiting`` a heap of (need, seq, job)."""

    budget: Decimal
    balance: Decimal
    held: Decimal = ZERO
    ran_dry_at: float | None = None
    waited: set[str] = field(default_factory=set)
    waiting: list[tuple[Decimal, int, PendingJob]] = field(default_factory=list)


class Accounts:
    """The money of one replay (see the module docstring). ``gpu_types``: the cluster's types with GPUs."""

    def __init__(self, config: MoneyConfig, gpu_types: Sequence[str]) -> None:
        self.config = config
        self.book = config.tariffs
        self.start = config.start
        self.gpu_types = tuple(gpu_types)
        self._memo: dict[tuple[float, str, int, float, str, str], Decimal] = {}
        self._open: dict[str, _Open] = {}
        self._attempts: dict[str, int] = {}
        self._rows: dict[tuple[str, str, str], _Acc] = {}
        self._seq = 0
        #: the tariff in force from trace time lo until hi (the last one looked up)
        self._span: tuple[float, float, Tariff] = (math.inf, -math.inf, self.book.tariffs[0])
        self.orgs: dict[str, _Org] = {org: _Org(points(b), points(b)) for org, b in (config.budgets or {}).items()}
        self.ledger: Ledger | None = None
        if config.keep_ledger:
            ledger = Ledger()
            for org, b in self.orgs.items():
                if b.budget > 0:
                    ledger = ledger.top_up(org, b.budget, self.start, org=org, note="replay budget")
            self.ledger = ledger

    @property
    def budgets(self) -> bool:
        return bool(self.orgs)

    def tariff_changes(self) -> list[float]:
        """The trace times after 0 at which a new tariff version starts."""
        return [t.valid_from - self.start for t in self.book.tariffs if t.valid_from > self.start]

    # -- pricing ------------------------------------------------------------------------------------------
    def cost(self, tariff: Tariff, gpu_type: str, gpus: int, seconds: float, prio: str,
             service: str = DEFAULT_SERVICE_CLASS) -> Decimal:
        """:func:`gpucloud.money.tariff.cost`, memoised."""
        key = (tariff.valid_from, gpu_type, gpus, seconds, prio, service)
        c = self._memo.get(key)
        if c is None:
            c = self._memo[key] = cost(tariff, gpu_type, gpus, seconds, service, prio)
        return c

    def _price(self, o: _Open) -> Callable[[float], Decimal]:
        """The cost of ``o``'s run for a number of seconds (memoised)."""
        return lambda seconds: self.cost(o.tariff, o.gpu_type, o.spec.num_gpus, seconds, o.prio, o.service)

    def tariff(self, now: float) -> Tariff:
        """The tariff in force at trace time ``now`` (``in_force(trace_start + now)``)."""
        lo, hi, t = self._span
        if lo <= now < hi:
            return t
        t = self.book.in_force(self.start + now)
        later = [v.valid_from - self.start for v in self.book.tariffs if v.valid_from > t.valid_from]
        self._span = (t.valid_from - self.start, later[0] if later else math.inf, t)
        return t

    def _need(self, spec: JobSpec, now: float) -> Decimal:
        """The least hold a start of ``spec`` at ``now`` could take (over the GPU types it may run on)."""
        tariff = self.tariff(now)
        prio = priority_class(spec.priority)
        types = (spec.gpu_type,) if spec.gpu_type is not None else self.gpu_types
        return min(self.cost(tariff, g, spec.num_gpus, spec.walltime, prio) for g in types)

    # -- a run's start and end ----------------------------------------------------------------------------
    def admit(self, spec: JobSpec, gpu_type: str, now: float, part_of_a_node: bool = False) -> bool:
        """Start a run of ``spec`` on ``gpu_type`` at trace time ``now``: hold its walltime's cost if the org
        has a budget. False (nothing held) when the org cannot cover it: the caller must undo the start.
        ``part_of_a_node``: it holds part of one node (priced ``shared`` where the tariff has that class)."""
        jid = spec.id
        n = self._attempts.get(jid, 0) + 1
        tariff = self.tariff(now)
        o = _Open(spec, n, gpu_type, tariff, priority_class(spec.priority), now, ZERO,
                  priced_class(tariff, DEFAULT_SERVICE_CLASS, part_of_a_node))
        o.held = held = hold_amount(spec.walltime, self._price(o))
        acct = self.orgs.get(spec.org)
        if acct is not None:
            if not covers(acct.balance - acct.held, held):
                if acct.ran_dry_at is None:
                    acct.ran_dry_at = now
                acct.waited.add(jid)
                return False
            acct.held += held
            if self.ledger is not None:
                self.ledger = self.ledger.hold(o.job_run(self.start))
        self._attempts[jid] = n
        self._open[jid] = o
        return True

    def settle(self, job_id: str, now: float) -> bool:
        """End the open run of ``job_id`` at trace time ``now``: charge the time used (at most its walltime)
        and give back the rest of its hold. True when the org has jobs waiting for budget."""
        o = self._open.pop(job_id)
        spec = o.spec
        used = min(now - o.start, spec.walltime)
        charge = charge_amount(now - o.start, spec.walltime, o.held, self._price(o))
        acct = self.orgs.get(spec.org)
        if acct is not None:
            acct.held -= o.held
            acct.balance -= charge
            if self.ledger is not None:
                self.ledger = self.ledger.settle(f"{job_id}#{o.attempt}", used, self.start + now)
        key = (spec.org, spec.project, o.gpu_type)
        acc = self._rows.get(key)
        if acc is None:
            acc = self._rows[key] = _Acc()
        acc.runs += 1
        acc.gpu_seconds += spec.num_gpus * used
        acc.points += charge
        return acct is not None and bool(acct.waiting)

    # -- jobs waiting for budget --------------------------------------------------------------------------
    def wait(self, job: PendingJob, now: float) -> None:
        """Keep ``job`` (refused at ``now``) until its org can cover its hold."""
        self._seq += 1
        heapq.heappush(self.orgs[job.spec.org].waiting, (self._need(job.spec, now), self._seq, job))

    def affordable(self, org: str) -> list[PendingJob]:
        """Take out the org's waiting jobs that its available points now cover all together, smallest least hold
        first (so points that came back are not offered to more jobs than they can pay for); in refusal order."""
        acct = self.orgs[org]
        available = acct.balance - acct.held
        heap = acct.waiting
        out: list[tuple[int, PendingJob]] = []
        while heap and heap[0][0] <= available:
            need, seq, job = heapq.heappop(heap)
            available -= need
            out.append((seq, job))
        out.sort(key=lambda e: e[0])
        return [job for _, job in out]

    def reprice(self, now: float) -> list[str]:
        """A new tariff version started at ``now``: recompute every waiting job's least hold; returns the orgs
        with waiting jobs."""
        orgs = []
        for org, acct in self.orgs.items():
            if acct.waiting:
                acct.waiting = [(self._need(job.spec, now), seq, job) for _, seq, job in acct.waiting]
                heapq.heapify(acct.waiting)
                orgs.append(org)
        return orgs

    # -- the report ---------------------------------------------------------------------------------------
    def report(self, records: Sequence[JobRecord]) -> MoneyReport:
        """Costs per org × project × GPU type, and per org its budget figures (after the replay)."""
        rows = [CostRow(org, project, gtype, acc.runs, gpu_hours(acc.gpu_seconds), acc.points)
                for (org, project, gtype), acc in sorted(self._rows.items())]
        by_type: dict[str, dict[str, _Acc]] = {}
        for (org, _, gtype), acc in sorted(self._rows.items()):
            t = by_type.setdefault(org, {}).setdefault(gtype, _Acc())
            t.runs += acc.runs
            t.gpu_seconds += acc.gpu_seconds
            t.points += acc.points
        started = {r.job_id for r in records if r.start_time is not None}
        orgs: dict[str, OrgMoney] = {}
        for org in sorted({r.org for r in records} | set(self.orgs)):
            types = by_type.get(org, {})
            acct = self.orgs.get(org)
            waiting = [job.spec.id for _, _, job in acct.waiting] if acct is not None else []
            orgs[org] = OrgMoney(
                points=sum((a.points for a in types.values()), ZERO),
                gpu_hours=gpu_hours(sum(a.gpu_seconds for a in types.values())),
                by_gpu_type={g: (gpu_hours(a.gpu_seconds), a.points) for g, a in sorted(types.items())},
                budget=None if acct is None else acct.budget,
                left=None if acct is None else acct.balance,
                ran_dry_at=None if acct is None else acct.ran_dry_at,
                jobs_waited=0 if acct is None else len(acct.waited),
                jobs_never_ran=sum(1 for j in waiting if j not in started),
                jobs_unfinished=len(waiting),
            )
        names_ = tuple(t.name for t in self.book.tariffs)
        return MoneyReport(self.start, names_, self.budgets, rows, orgs)
