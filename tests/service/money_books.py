"""Checking the books of a running service from its database, for the money tests (issue 4).

:func:`check_books` reads the ledger, the jobs and their events and checks every invariant the service must keep,
with the costs recomputed here by hand from the tariffs below (not with :mod:`gpucloud.money.tariff`), and the
runs recovered from the job events (not from the ledger):

* the whole ledger rebuilt from the database verifies (:meth:`gpucloud.money.Ledger.verify`);
* per project: the top-ups stored are the ones the test made, and balance = top-ups − charges + refunds −
  expiries = top-ups − Σ the hand-computed charges of its runs, exactly (Decimal);
* no balance, held amount or available amount is below zero;
* each run (an ``admitted`` event) has exactly one hold, of the hand-computed cost of its full walltime at the
  tariff in force when it was admitted; a run that ran and ended has exactly one release and one charge, of the
  hand-computed cost of the time it ran (capped at the hold); a run that never started has a release and no
  charge; a run still going has its hold open and nothing else; no entry names a run the events do not know;
* the open holds are exactly those of the jobs that are admitted, running or preempting;
* (given the time) a job that waits with reason ``budget`` really cannot pay its hold.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpucloud.money.ledger import EntryKind
from gpucloud.service import budgets
from gpucloud.service.executors.base import (
    ExitStatus,
    Found,
    Handle,
    LaunchSpec,
    LogCursor,
    LogPiece,
    RankExit,
    Report,
)
from gpucloud.service.executors.exitfile import status_from_code
from gpucloud.service.store.models import JobEventRow, JobRow, OrgRow, ProjectRow

T0 = 1_700_000_000.0
#: The second tariff version starts 90 minutes after the tests' clock starts.
T_V2 = T0 + 5400

TARIFFS = {"tariffs": [
    {"name": "v1", "valid_from": 1_600_000_000, "minimum_seconds": 60, "increment_seconds": 30,
     "points_per_gpu_hour": {"H100-80GB": "2.5"},
     "service_classes": {"standard": "1", "interactive": "1.25", "preemptible": "0.5"},
     "priority_classes": {"high": "1.5", "low": "0.5"}},
    {"name": "v2", "valid_from": T_V2, "minimum_seconds": 120, "increment_seconds": 1,
     "points_per_gpu_hour": {"H100-80GB": "3.7"},
     "service_classes": {"standard": "1", "interactive": "1.5", "preemptible": "0.4"},
     "priority_classes": {"high": "2"}},
]}


@dataclass(frozen=True)
class HandTariff:
    price: Fraction
    minimum: int
    increment: int
    service: Mapping[str, Fraction]
    priority: Mapping[str, Fraction]


HAND = {
    "v1": HandTariff(Fraction("2.5"), 60, 30, {"standard": Fraction(1), "interactive": Fraction(5, 4),
                                               "preemptible": Fraction(1, 2)},
                     {"high": Fraction(3, 2), "low": Fraction(1, 2)}),
    "v2": HandTariff(Fraction("3.7"), 120, 1, {"standard": Fraction(1), "interactive": Fraction(3, 2),
                                              "preemptible": Fraction(2, 5)},
                     {"high": Fraction(2)}),
}
Q = Decimal("0.0001")
ENDS = {"pending", "succeeded", "failed", "cancelled", "timed_out"}
HOLDING = {"admitted", "running", "preempting"}


def hand_cost(at: float, gpus: int, seconds: float, priority: str, service: str = "standard") -> Decimal:
    """The tariff rules of docs/money.md, by hand: the version in force at ``at``; 0 s costs nothing, else at
    least the minimum, rounded up to the increment; price × GPUs × hours × service and priority multipliers,
    rounded once to 0.0001 half to even."""
    t = HAND["v2"] if at >= T_V2 else HAND["v1"]
    s = Fraction(Decimal(repr(seconds)))
    if s <= 0:
        billed = Fraction(0)
    else:
        billed = max(s, Fraction(t.minimum))
        billed = math.ceil(billed / t.increment) * Fraction(t.increment)
    exact = t.price * gpus * billed / 3600 * t.service[service] * t.priority.get(priority, Fraction(1))
    return (Decimal(round(exact * 10_000)) / 10_000).quantize(Q)  # round() of a Fraction: half to even, exact


@dataclass
class Manual:
    """An executor whose jobs run until the test ends them (``finish``); SIGTERM and SIGKILL end them at once;
    launches finish at once. Shared by several loops (replicas) it stands for one set of processes on the cluster."""

    name: str = "manual"
    side_effects: bool = False
    done: dict[str, ExitStatus] = field(default_factory=dict)
    #: how many of the next launches fail (the job was admitted and held, then cannot start)
    failing: int = 0
    launched: dict[str, Handle] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def bind(self, notify: Callable[[], None], epoch: int, installation: str = "") -> None:
        """Nothing to fence: no host."""

    def launch(self, spec: LaunchSpec) -> None:
        if self.failing > 0:
            self.failing -= 1
            self.failed[spec.job_id] = "no such program (the test said so)"
        else:
            self.launched[spec.job_id] = Handle(self.name, spec.job_id, {"world": len(spec.placement)})

    def collect(self, watched: Mapping[str, Handle], logs: Sequence[LogCursor] = ()) -> Report:
        report = Report(launched=self.launched, launch_failed=self.failed)
        self.launched, self.failed = {}, {}
        report.exits = [RankExit(j, r, s) for j, s in self.done.items() if j in watched
                        for r in range(watched[j].world)]
        report.logs = [LogPiece(c.job_id, c.rank, c.stream, c.offset, b"", final=True) for c in logs]
        return report

    def signal(self, handle: Handle, sig: int) -> None:
        self.done.setdefault(handle.job_id, status_from_code(128 + sig))

    def find(self, job_id: str, attempt: int, nodes: Sequence[str]) -> Found:
        return Found(None)

    def close(self) -> None:
        """Nothing runs."""

    def finish(self, jid: int, code: int = 0) -> None:
        self.done.setdefault(str(jid), ExitStatus(code, f"exit code {code}"))


@dataclass
class Run:
    ref: str
    project: str
    admitted_at: float
    gpus: int
    walltime: float
    priority: str
    service: str
    started_at: float | None = None
    ended_at: float | None = None
    #: how it ended without starting (released, nothing charged)
    released: bool = False

    @property
    def hold(self) -> Decimal:
        return hand_cost(self.admitted_at, self.gpus, self.walltime, self.priority, self.service)

    @property
    def charge(self) -> Decimal | None:
        if self.started_at is None or self.ended_at is None:
            return None
        ran = self.ended_at - self.started_at
        return min(hand_cost(self.admitted_at, self.gpus, ran, self.priority, self.service), self.hold)


@dataclass
class Books:
    """What :func:`check_books` found, for the tests' own assertions."""

    runs: dict[str, Run]
    states: dict[int, str]
    #: wait reasons of pending jobs
    reasons: dict[int, str]
    balances: dict[str, Decimal]
    available: dict[str, Decimal]
    entries: int


def runs_from_events(session: Session) -> tuple[dict[str, Run], dict[int, Any]]:
    """Every run of every job, recovered from the jobs' events (``<job id>#<run>``); and the job rows."""
    jobs = {r.id: r for r in session.execute(
        select(JobRow.id, JobRow.state, JobRow.run_count, JobRow.num_gpus, JobRow.walltime_s, JobRow.priority_class,
               JobRow.service_class, JobRow.reason, OrgRow.name.label("org"), ProjectRow.name.label("project"))
        .join(OrgRow, OrgRow.id == JobRow.org_id).join(ProjectRow, ProjectRow.id == JobRow.project_id))}
    runs: dict[str, Run] = {}
    current: dict[int, Run] = {}
    started: Counter[int] = Counter()
    for ev in session.execute(select(JobEventRow.job_id, JobEventRow.at, JobEventRow.from_state,
                                     JobEventRow.to_state).order_by(JobEventRow.id)):
        j = jobs[ev.job_id]
        if ev.to_state == "admitted":
            run = Run(f"{j.id}#{started[j.id] + 1}", f"{j.org}/{j.project}", ev.at, j.num_gpus, j.walltime_s,
                      j.priority_class, j.service_class)
            assert run.ref not in runs, f"run {run.ref} admitted twice"
            runs[run.ref] = current[j.id] = run
        elif ev.to_state == "running":
            started[j.id] += 1
            current[j.id].started_at = ev.at
        elif ev.from_state == "admitted" and ev.to_state in ENDS:
            current.pop(j.id).released = True
        elif ev.from_state in ("running", "preempting") and ev.to_state in ENDS:
            current.pop(j.id).ended_at = ev.at
    return runs, jobs


def check_books(session: Session, top_ups: Mapping[str, Decimal], now: float | None = None) -> Books:
    """Check every invariant listed in the module's docstring; ``top_ups``: what the test topped up, per
    project key ``org/project``. Raises AssertionError (or LedgerError from verify) on the first broken one.
    ``now`` (right after a tick): also check that each job waiting for ``budget`` cannot pay its hold now."""
    ledger = budgets.full_ledger(session)
    ledger.verify()
    runs, jobs = runs_from_events(session)

    # per project: the sums of each kind, and the hand-computed charges of its runs
    sums: dict[str, dict[EntryKind, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    by_ref: dict[str, list[Any]] = defaultdict(list)
    for e in ledger.entries:
        sums[e.project][e.kind] += e.amount
        if e.ref:
            by_ref[e.ref].append(e)
    expected_charges: dict[str, Decimal] = defaultdict(Decimal)
    for run in runs.values():
        if run.charge is not None:
            expected_charges[run.project] += run.charge
    state = budgets.budgets(session)
    balances: dict[str, Decimal] = {}
    available: dict[str, Decimal] = {}
    for project, b in state:
        key = budgets.project_key(project.org.name, project.name)
        s = sums[key]
        topped = top_ups.get(key, Decimal(0))
        assert s[EntryKind.TOP_UP] == topped, f"{key}: top-ups stored {s[EntryKind.TOP_UP]}, made {topped}"
        assert s[EntryKind.CHARGE] == expected_charges[key], \
            f"{key}: charged {s[EntryKind.CHARGE]}, the tariff says {expected_charges[key]}"
        by_kinds = s[EntryKind.TOP_UP] - s[EntryKind.CHARGE] + s[EntryKind.REFUND] - s[EntryKind.EXPIRY]
        assert b.balance == by_kinds, f"{key}: balance {b.balance} != top-ups − charges + refunds − expiries {by_kinds}"
        assert b.balance == topped - expected_charges[key] + s[EntryKind.REFUND] - s[EntryKind.EXPIRY]
        assert isinstance(b.balance, Decimal) and isinstance(b.available, Decimal)
        assert b.balance >= 0 and b.held >= 0 and b.available >= 0, f"{key}: below zero: {b}"
        balances[key], available[key] = b.balance, b.available

    # run by run: its entries, as the events say they must be
    for ref, run in runs.items():
        kinds = Counter(e.kind for e in by_ref.get(ref, []))
        holds = [e for e in by_ref.get(ref, []) if e.kind is EntryKind.HOLD]
        assert kinds[EntryKind.HOLD] == 1, f"run {ref}: {kinds[EntryKind.HOLD]} holds"
        assert holds[0].amount == run.hold, f"run {ref}: held {holds[0].amount}, the tariff says {run.hold}"
        assert holds[0].project == run.project
        charges = [e for e in by_ref[ref] if e.kind is EntryKind.CHARGE]
        if run.charge is not None:
            assert (kinds[EntryKind.RELEASE], kinds[EntryKind.CHARGE]) == (1, 1), f"settled run {ref}: {kinds}"
            assert charges[0].amount == run.charge, \
                f"run {ref} ran {run.started_at}…{run.ended_at}: charged {charges[0].amount}, the tariff " \
                f"says {run.charge}"
            assert ref not in ledger.holds
        elif run.released:
            assert (kinds[EntryKind.RELEASE], kinds[EntryKind.CHARGE]) == (1, 0), f"unstarted run {ref}: {kinds}"
            assert ref not in ledger.holds
        else:
            assert (kinds[EntryKind.RELEASE], kinds[EntryKind.CHARGE]) == (0, 0), f"live run {ref}: {kinds}"
            assert ref in ledger.holds, f"run {ref} is live but its hold is not open"
        assert set(kinds) <= {EntryKind.HOLD, EntryKind.RELEASE, EntryKind.CHARGE}, f"run {ref}: {kinds}"
    unknown = set(by_ref) - set(runs)
    assert not unknown, f"ledger entries for runs no job event knows: {sorted(unknown)}"

    # open holds ⟺ jobs holding GPUs (or admitted), for their current run
    live = {f"{j.id}#{j.run_count + (1 if j.state == 'admitted' else 0)}" for j in jobs.values()
            if j.state in HOLDING}
    assert set(ledger.holds) == live, \
        f"open holds {sorted(ledger.holds)} but admitted/running/preempting runs {sorted(live)}"
    if now is not None:
        for j in jobs.values():
            if j.state == "pending" and j.reason == "budget":
                key = f"{j.org}/{j.project}"
                need = hand_cost(now, j.num_gpus, j.walltime_s, j.priority_class, j.service_class)
                assert need > available[key], f"job {j.id} waits for budget, but needs {need} of {available[key]}"
    return Books(runs, {j.id: j.state for j in jobs.values()},
                 {j.id: j.reason for j in jobs.values() if j.state == "pending"}, balances, available,
                 len(ledger.entries))
