"""Budgets and charging in the service: the pure rules of :mod:`gpucloud.money` applied to stored ledgers.

Inactive until the operator configures a tariff (a row in ``tariffs``): with none, :func:`on_job_changes`
does nothing and every job runs as before. With one:

- pending → admitted: hold the full requested walltime at the tariff in force now (run ``<id>#<run>``);
  refused (:class:`gpucloud.money.BudgetError`): the job is not admitted and waits with reason ``budget``;
- a run that ends (succeeded, failed, cancelled, timed out) or is preempted (→ pending): settle it, charging
  the time it ran and releasing the rest; an admitted job that never started: release its hold.

A hold is split with the subsidy programme that applies to the run (:func:`gpucloud.service.programmes.choose`:
at most one, the first eligible in name order); what programmes have committed is summed from the ledger.
:func:`expire_due` (called by the control loop about once a minute) expires budgets past their expiry date.

Each operation reads the project's ledger state (balances derived from its entries), applies
:class:`gpucloud.money.Ledger`'s rule and appends the entries it returns, in the caller's transaction. On
PostgreSQL the project's budget row is locked ``FOR UPDATE`` first (after the programme rows, for holds), so
concurrent operations on one project run one after the other; the unique (ref, kind) on ``ledger_entries`` is
the last guard against a double charge. Lock order, everywhere: the ``scheduler_state`` row (bumping the
version), then programme rows, then budget rows; the loop's transactions bump the version first, so an operation
outside the loop that locks budget rows and changes what the scheduler sees (a top-up, an expiry) bumps it
first too, else it deadlocks with a loop settling jobs of the same project.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from gpucloud.core.types import WaitReason
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobState
from gpucloud.money.ledger import Budget, BudgetError, Entry, EntryKind, Hold, JobRun, Ledger
from gpucloud.money.points import ZERO
from gpucloud.money.runs import part_of_a_node
from gpucloud.money.subsidy import Programme
from gpucloud.money.tariff import DEFAULT_SERVICE_CLASS, Tariff, TariffBook, priced_class
from gpucloud.money.tariff_file import load_tariffs
from gpucloud.money.tariff_json import tariff_from_json, tariff_to_json
from gpucloud.money.usage import ChargeRecord, aggregate, monthly_csv
from gpucloud.service import programmes
from gpucloud.service.store.engine import bump_version, is_postgres
from gpucloud.service.store.errors import NotFound
from gpucloud.service.store.models import (
    BudgetRow,
    LedgerEntryRow,
    OpenHoldRow,
    OrgRow,
    ProgrammeRow,
    ProjectRow,
    ReservationRow,
    TariffRow,
)

BUDGET = WaitReason.BUDGET
RAN = frozenset({JobState.RUNNING.value, JobState.PREEMPTING.value})
ENDS = frozenset({JobState.PENDING.value, JobState.SUCCEEDED.value, JobState.FAILED.value,
                  JobState.CANCELLED.value, JobState.TIMED_OUT.value})


def _table(model: Any) -> Table:
    t = model.__table__
    assert isinstance(t, Table)
    return t


def project_key(org: str, project: str) -> str:
    return f"{org}/{project}"


# --- tariffs ---------------------------------------------------------------------------------------------------

def tariff_book(session: Session) -> TariffBook | None:
    """The configured tariff versions, or None when there are none (budgets inactive)."""
    specs = session.execute(select(TariffRow.spec).order_by(TariffRow.valid_from)).scalars().all()
    return TariffBook(tariff_from_json(s) for s in specs) if specs else None


def tariff_in_force(session: Session, now: float) -> Tariff | None:
    """The tariff version in force at ``now``; None when there is none (no tariffs, or none begun yet)."""
    book = tariff_book(session)
    if book is None:
        return None
    try:
        return book.in_force(now)
    except InputError:
        return None


def add_tariffs(session: Session, book: TariffBook, now: float) -> list[Tariff]:
    """Store the versions of ``book`` not stored yet (same name: skipped if identical, else an error)."""
    existing = {r.name: r for r in session.scalars(select(TariffRow))}
    starts = {r.valid_from: r.name for r in existing.values()}
    added: list[Tariff] = []
    for t in book.tariffs:
        spec = tariff_to_json(t)
        old = existing.get(t.name)
        if old is not None:
            if old.spec != spec:
                raise InputError("name", "a tariff version with this name exists with other prices; versions are "
                                         "never changed, add a new one with a later valid_from", t.name)
            continue
        if t.valid_from in starts:
            raise InputError("valid_from", f"tariff {starts[t.valid_from]!r} already starts then", t.valid_from)
        session.add(TariffRow(name=t.name, valid_from=t.valid_from, spec=spec, created_at=now))
        added.append(t)
    session.flush()
    return added


def load_tariff_file(session: Session, path: str | Path, cluster: Cluster, now: float) -> list[Tariff]:
    """Read a tariff file (checked against ``cluster``) and store its versions not stored yet (server start);
    every error names the file and the field."""
    book = load_tariffs(path, cluster)
    try:
        return add_tariffs(session, book, now)
    except InputError as exc:
        raise InputError(exc.field, exc.reason, exc.value, where=str(path)) from None


# --- ledger state ---------------------------------------------------------------------------------------------

def lock_budgets(session: Session, project_ids: Iterable[int]) -> dict[int, BudgetRow]:
    """The budget rows of these projects, locked FOR UPDATE on PostgreSQL (in project order: no deadlocks)."""
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    stmt = select(BudgetRow).where(BudgetRow.project_id.in_(ids)).order_by(BudgetRow.project_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return {b.project_id: b for b in session.scalars(stmt)}


def _run_to_json(run: JobRun) -> dict[str, Any]:
    return {"org": run.org, "project": run.project, "user": run.user, "gpu_type": run.gpu_type, "gpus": run.gpus,
            "walltime": run.walltime, "started_at": run.started_at, "service_class": run.service_class,
            "priority_class": run.priority_class, "tariff": tariff_to_json(run.tariff)}


def _run_from_json(ref: str, d: Mapping[str, Any]) -> JobRun:
    return JobRun(ref, d["org"], d["project"], d["gpu_type"], int(d["gpus"]), float(d["walltime"]),
                  float(d["started_at"]), tariff_from_json(d["tariff"]), d["service_class"], d["priority_class"],
                  d.get("user", ""))


def _programme_to_json(p: Programme) -> dict[str, Any]:
    return {"name": p.name, "share": str(p.share), "total": str(p.total),
            "org_cap": None if p.org_cap is None else str(p.org_cap)}


def _programme_from_json(d: Mapping[str, Any], current: ProgrammeRow | None) -> Programme:
    """The programme of an open hold: its share when the run started; total and caps as they are now."""
    share = Fraction(d["share"])
    if current is not None:
        return dataclasses.replace(programmes.programme_of(current), share=share)
    cap = d.get("org_cap")
    return Programme(d["name"], share, Decimal(d["total"]), None if cap is None else Decimal(cap))


def _usage_to_json(u: ChargeRecord) -> dict[str, Any]:
    return {"org": u.org, "project": u.project, "user": u.user, "gpu_type": u.gpu_type, "start": u.start,
            "end": u.end, "gpus": u.gpus, "points": str(u.points), "subsidy": str(u.subsidy)}


def _usage_from_json(d: Mapping[str, Any]) -> ChargeRecord:
    return ChargeRecord(d["org"], d["project"], d.get("user", ""), d["gpu_type"], float(d["start"]),
                        float(d["end"]), int(d["gpus"]), Decimal(d["points"]), Decimal(d["subsidy"]))


@dataclass
class State:
    """A ledger holding the current state of some projects (no entries: only what operations append),
    and the project ids of their keys."""

    ledger: Ledger
    project_ids: dict[str, int]


def load_state(session: Session, projects: Mapping[int, str], lock: bool = True) -> State:
    """The ledger state of ``projects`` (project id → key ``org/project``): the running totals of their budget
    rows (locked first on PostgreSQL) and their open holds — never a sum over the history."""
    rows = lock_budgets(session, projects) if lock else {
        b.project_id: b for b in session.scalars(select(BudgetRow).where(BudgetRow.project_id.in_(list(projects))))}
    budgets: dict[str, Budget] = {}
    for pid, key in projects.items():
        row = rows.get(pid)
        budgets[key] = (Budget(key, ZERO, ZERO, ZERO) if row is None else
                        Budget(key, row.balance, row.held, row.spent, row.cap, row.expires_at))
    t = _table(OpenHoldRow)
    open_ = session.execute(select(t.c.ref, t.c.amount, t.c.subsidy, t.c.detail)
                            .where(t.c.project_id.in_(list(projects)))).all()
    subsidised = {h.detail["programme"]["name"] for h in open_ if h.detail.get("programme")}
    current = {r.name: r for r in programmes.list_rows(session, names=subsidised)} if subsidised else {}
    holds: dict[str, Hold] = {}
    for h in open_:
        p = h.detail.get("programme")
        prog = None if not p else _programme_from_json(p, current.get(p["name"]))
        holds[h.ref] = Hold(_run_from_json(h.ref, h.detail), h.amount, h.subsidy, prog)
    return State(Ledger((), budgets, holds), {key: pid for pid, key in projects.items()})


def append(session: Session, state: State, ledger: Ledger) -> list[Entry]:
    """Insert the entries ``ledger`` appended to ``state.ledger`` (one executemany), and keep the running
    totals and open holds in step (same transaction)."""
    new = ledger.entries[len(state.ledger.entries):]
    if not new:
        return []
    params = []
    opened: list[dict[str, Any]] = []
    closed: list[str] = []
    committed = programmes.Commitments()
    for e in new:
        detail: dict[str, Any] | None = None
        pid = state.project_ids[e.project]
        if e.programme:
            committed.add(e.programme, e.project.split("/", 1)[0], e.kind, e.amount, e.subsidy)
        if e.kind is EntryKind.HOLD:
            hold = ledger.holds[e.ref]
            detail = _run_to_json(hold.run)
            if hold.programme is not None:
                detail["programme"] = _programme_to_json(hold.programme)
            opened.append({"ref": e.ref, "project_id": pid, "amount": e.amount, "subsidy": e.subsidy,
                           "detail": detail})
        elif e.kind is EntryKind.RELEASE:
            closed.append(e.ref)
        elif e.kind is EntryKind.CHARGE and e.usage is not None:
            detail = _usage_to_json(e.usage)
        params.append({"project_id": pid, "kind": e.kind.value, "amount": e.amount,
                       "ref": e.ref or None, "at": e.at, "subsidy": e.subsidy, "programme": e.programme,
                       "note": e.note, "detail": detail})
    session.execute(insert(LedgerEntryRow), params)
    if closed:
        session.execute(delete(OpenHoldRow).where(OpenHoldRow.ref.in_(closed)))
    if opened:
        session.execute(insert(OpenHoldRow), opened)
    _write_totals(session, ledger, {state.project_ids[e.project]: e.project for e in new}, new[-1].at)
    programmes.add_to_totals(session, committed)
    return list(new)


def _write_totals(session: Session, ledger: Ledger, projects: Mapping[int, str], at: float) -> None:
    """Each project's balance, held and spent after ``ledger``'s operations, on its budget row (created the
    first time a project gets an entry without one)."""
    rows = {b.project_id: b for b in session.scalars(select(BudgetRow).where(BudgetRow.project_id.in_(projects)))}
    for pid, key in projects.items():
        b = ledger.budget(key)
        row = rows.get(pid)
        if row is None:
            session.add(BudgetRow(project_id=pid, created_at=at, balance=b.balance, held=b.held, spent=b.spent))
        else:
            row.balance, row.held, row.spent = b.balance, b.held, b.spent
    session.flush()


# --- the loop's hook -----------------------------------------------------------------------------------------

def _ref(job_id: int, run: int) -> str:
    return f"{job_id}#{run}"


def on_job_changes(session: Session, changes: Sequence[tuple[str, Any, float]],
                   node_gpus: Callable[[str], int | None] | None = None,
                   lent_nodes: frozenset[str] = frozenset()) -> dict[int, str]:
    """Money for the job state changes of one transaction: ``(state before, row after, at)`` each, the row a
    :class:`gpucloud.service.control.txn.JobValues`. Holds for admissions, settles for ends, releases for
    runs that never started. ``node_gpus`` (node name → its GPU count) tells a run holding part of one node,
    which a tariff with a ``shared`` class charges at that class (:func:`gpucloud.money.tariff.priced_class`).
    Returns the admissions refused (job id → wait reason): the caller must undo them. ``lent_nodes``: the nodes of
    ``ran`` services' sites: a preemptible ``standard`` run placed on one is lent GPUs, priced at the tariff's
    ``preemptible`` class when it has one (:func:`lent_class`).
    Does nothing (one small read) when no tariff is configured."""
    todo = [(old, row, at) for old, row, at in changes
            if ((old == JobState.PENDING.value and row.state == JobState.ADMITTED.value)
                or (old in RAN | {JobState.ADMITTED.value} and row.state in ENDS))
            and getattr(row, "service_id", None) is None]  # a service's replica holds and pays nothing here
    if not todo:
        return {}
    book = tariff_book(session)
    if book is None:
        return {}
    admits = [row for _, row, _ in todo if row.state == JobState.ADMITTED.value]
    # lock order: programme rows, then the projects' budget rows
    offers = [programmes.offer_of(r) for r in programmes.list_rows(session, lock=True)] if admits else []
    kinds: dict[int, str] = {}
    if offers:
        kinds = {i: k for i, k in session.execute(select(OrgRow.id, OrgRow.kind)
                                                  .where(OrgRow.id.in_({r.org_id for r in admits})))}
    state = load_state(session, {row.project_id: project_key(row.org_name, row.project_name) for _, row, _ in todo})
    ledger = state.ledger
    if offers:
        ledger = programmes.with_commitments(ledger, programmes.commitments(session,
                                                                           [o.programme.name for o in offers]))
    refused: dict[int, str] = {}
    for old, row, at in todo:
        key = project_key(row.org_name, row.project_name)
        if row.state == JobState.ADMITTED.value:
            if row.reservation_id is not None:
                continue  # runs inside a reservation, paid in full when it was booked
            try:
                tariff = book.in_force(at)
            except InputError:
                continue  # no tariff in force yet
            try:
                kind = kinds.get(row.org_id, "")
                run = JobRun(_ref(row.id, row.run_count + 1), row.org_name, key, row.assigned_gpu_type or "",
                             row.num_gpus, row.walltime_s, at, tariff,
                             service_class=priced_class(tariff, lent_class(row, tariff, lent_nodes),
                                                        _part_of_a_node(row, node_gpus)),
                             priority_class=row.priority_class, user=row.user_name, org_kind=kind)
                ledger = ledger.hold(run, programme=programmes.choose(offers, ledger, row.org_name, kind, at))
            except BudgetError:
                refused[row.id] = BUDGET
            except InputError as exc:
                refused[row.id] = f"{BUDGET}: {exc}"
            continue
        ran = old in RAN or row.run_count > row._read["run_count"]
        ref = _ref(row.id, row.run_count if ran else row.run_count + 1)
        if ref not in ledger.holds:
            continue  # held nothing (admitted before a tariff existed) or already settled
        if ran:
            ledger = ledger.settle(ref, max(0.0, at - (row.started_at or at)), at)
        else:
            ledger = ledger.release(ref, at, note="never started")
    append(session, state, ledger)
    return refused


def cannot_pay(session: Session, pending: Sequence[Any], now: float) -> dict[int, str]:
    """The pending jobs (snapshot rows) whose project cannot pay their hold now even alone, on the cheapest GPU
    type they may get (job id → wait reason ``budget``). The scheduling cycle leaves them out: otherwise such a
    job takes a placement every cycle (and may preempt) only to be refused at admission, and holds back the
    jobs behind it for as long as its project has no points. Nothing is locked; jobs in a reservation (paid
    already) and jobs no priced GPU type fits are left to :func:`on_job_changes`."""
    rows = [r for r in pending if r.reservation_id is None]
    book = tariff_book(session) if rows else None
    if book is None:
        return {}
    try:
        tariff = book.in_force(now)
    except InputError:
        return {}
    offers = [programmes.offer_of(r) for r in programmes.list_rows(session)]
    kinds: dict[int, str] = {}
    if offers:
        kinds = {i: k for i, k in session.execute(select(OrgRow.id, OrgRow.kind)
                                                  .where(OrgRow.id.in_({r.org_id for r in rows})))}
    state = load_state(session, {r.project_id: project_key(r.org_name, r.project_name) for r in rows}, lock=False)
    ledger = state.ledger
    if offers:
        ledger = programmes.with_commitments(ledger, programmes.commitments(session,
                                                                           [o.programme.name for o in offers]))
    out: dict[int, str] = {}
    #: jobs alike in what their hold depends on get the same answer (10,000 queued jobs are mostly alike)
    seen: dict[tuple[Any, ...], bool] = {}
    for r in rows:
        kind = kinds.get(r.org_id, "")
        alike = (r.project_id, r.org_id, r.gpu_type, r.num_gpus, r.walltime_s, r.service_class, r.priority_class)
        known = seen.get(alike)
        if known is not None:
            if known:
                out[r.id] = BUDGET
            continue
        refused = False
        for gpu_type in [r.gpu_type] if r.gpu_type else sorted(tariff.points_per_gpu_hour):
            try:
                run = JobRun(_ref(r.id, r.run_count + 1), r.org_name, project_key(r.org_name, r.project_name),
                             gpu_type, r.num_gpus, r.walltime_s, now, tariff, service_class=r.service_class,
                             priority_class=r.priority_class, user=r.user_name, org_kind=kind)
                ledger.hold(run, programme=programmes.choose(offers, ledger, r.org_name, kind, now))
            except BudgetError:
                refused = True
                continue
            except InputError:
                continue
            refused = False
            break
        seen[alike] = refused
        if refused:
            out[r.id] = BUDGET
    return out


#: the class GPUs lent by a RAN service's sites are priced at
PREEMPTIBLE = "preemptible"


def lent_class(row: Any, tariff: Tariff, lent_nodes: frozenset[str]) -> str:
    """The class a run is priced at: ``preemptible`` for a preemptible ``standard`` run on GPUs a RAN service lends
    (a node of ``lent_nodes``) when the tariff offers that class, else the job's own (docs/services.md)."""
    if (lent_nodes and row.preemptible and row.service_class == DEFAULT_SERVICE_CLASS
            and PREEMPTIBLE in tariff.service_multipliers
            and any(str(p["node"]) in lent_nodes for p in row.placement or [])):
        return PREEMPTIBLE
    return str(row.service_class)


def _part_of_a_node(row: Any, node_gpus: Callable[[str], int | None] | None) -> bool:
    placed = row.placement or []
    sizes = [node_gpus(str(p["node"])) for p in placed] if node_gpus is not None else [None]
    return None not in sizes and part_of_a_node(
        (len(p["gpus"]), size) for p, size in zip(placed, sizes, strict=True) if size is not None)


# --- operator and reader operations -----------------------------------------------------------------------

def find_project(session: Session, org: str, project: str) -> ProjectRow:
    row = session.scalars(select(ProjectRow).join(OrgRow).where(OrgRow.name == org, ProjectRow.name == project)).first()
    if row is None:
        raise NotFound("project", f"{org}/{project}")
    return row


def top_up(session: Session, project: ProjectRow, amount: Decimal, now: float, *, note: str = "",
           expires_at: float | None = None, cap: Decimal | None = None) -> Budget:
    """Add points (operator); creates the budget row on first use. Returns the budget after it. Bumps the
    scheduler version first (lock order, see the module; jobs waiting for budget may start now)."""
    bump_version(session)
    if session.scalars(select(BudgetRow).where(BudgetRow.project_id == project.id)).first() is None:
        session.add(BudgetRow(project_id=project.id, created_at=now))
        session.flush()
    key = project_key(project.org.name, project.name)
    state = load_state(session, {project.id: key})
    ledger = state.ledger.top_up(key, amount, now, org=project.org.name, note=note, expires_at=expires_at)
    row = lock_budgets(session, [project.id])[project.id]
    if expires_at is not None:
        row.expires_at = expires_at
    if cap is not None:
        row.cap = cap
        ledger = ledger.set_budget(key, cap=cap, expires_at=ledger.budget(key).expires_at)
    append(session, state, ledger)
    return ledger.budget(key)


def expire_due(session: Session, now: float) -> list[str]:
    """Expire the budgets whose expiry date has passed (an EXPIRY entry for their available points, and the
    cap's period restarts); the keys (``org/project``) of those that got an entry. Idempotent: a second call
    at once writes nothing (what a running job gives back later expires at the next call). A top-up with a
    later expiry date starts a new period, untouched until that date."""
    due = list(session.scalars(select(BudgetRow.project_id).where(BudgetRow.expires_at.is_not(None),
                                                                   BudgetRow.expires_at <= now)))
    if not due:
        return []
    bump_version(session)  # before the budget rows (lock order, see the module)
    projects = {p.id: project_key(p.org.name, p.name)
                for p in session.scalars(select(ProjectRow).where(ProjectRow.id.in_(due)))}
    state = load_state(session, projects)
    ledger = state.ledger
    for key in sorted(projects.values()):
        ledger = ledger.expire(key, now)
    return [e.project for e in append(session, state, ledger)]


def budgets(session: Session, org_id: int | None = None) -> list[tuple[ProjectRow, Budget]]:
    """Every project's budget (of one org if given), by org and project name."""
    stmt = select(ProjectRow).join(OrgRow).order_by(OrgRow.name, ProjectRow.name)
    if org_id is not None:
        stmt = stmt.where(ProjectRow.org_id == org_id)
    projects = list(session.scalars(stmt))
    if not projects:
        return []
    state = load_state(session, {p.id: project_key(p.org.name, p.name) for p in projects}, lock=False)
    return [(p, state.ledger.budget(project_key(p.org.name, p.name))) for p in projects]


def ledger_page(session: Session, project: ProjectRow, offset: int, limit: int,
                newest_first: bool = False) -> tuple[list[LedgerEntryRow], int]:
    base = select(LedgerEntryRow).where(LedgerEntryRow.project_id == project.id)
    total = session.scalar(select(func.count()).select_from(LedgerEntryRow)
                           .where(LedgerEntryRow.project_id == project.id)) or 0
    order = LedgerEntryRow.id.desc() if newest_first else LedgerEntryRow.id
    rows = list(session.scalars(base.order_by(order).offset(offset).limit(limit)))
    return rows, total


def jobs_costs(session: Session, runs: Mapping[int, int]) -> dict[int, tuple[Decimal | None, Decimal | None]]:
    """Per job: (the estimated cost of its current or last held run, the points charged over all its runs), None
    where there is none; one query for many jobs. ``runs`` maps each job id to how many runs it started (its refs
    are ``<id>#1`` up to one past that: an admitted run holds before it starts)."""
    refs = [_ref(jid, run) for jid, n in runs.items() for run in range(1, n + 2)]
    if not refs:
        return {}
    rows = session.execute(select(LedgerEntryRow.ref, LedgerEntryRow.kind, LedgerEntryRow.amount,
                                  LedgerEntryRow.subsidy)
                           .where(LedgerEntryRow.ref.in_(refs)).order_by(LedgerEntryRow.id)).all()
    out: dict[int, tuple[Decimal | None, Decimal | None]] = {}
    for ref, kind, amount, subsidy in rows:
        jid = int(str(ref).partition("#")[0])  # refs of job runs: "<id>#<run>"
        estimated, final = out.get(jid, (None, None))
        if kind == EntryKind.HOLD.value:
            estimated = amount + subsidy
        elif kind == EntryKind.CHARGE.value:
            final = (final or ZERO) + amount
        out[jid] = (estimated, final)
    return out


def full_ledger(session: Session) -> Ledger:
    """The whole ledger rebuilt from the database (entries numbered 1, 2, ... in id order), with the running
    totals and open holds kept beside them: :meth:`Ledger.verify` checks the entries and that the kept state
    is what they add up to."""
    projects = {p.id: project_key(p.org.name, p.name) for p in session.scalars(select(ProjectRow))}
    state = load_state(session, projects, lock=False)
    out: list[Entry] = []
    for i, r in enumerate(session.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.id))):
        kind = EntryKind(r.kind)
        usage = _usage_from_json(r.detail) if kind is EntryKind.CHARGE and r.detail else None
        out.append(Entry(i + 1, r.at, kind, projects[r.project_id], r.amount, r.ref or "",
                         projects[r.project_id].split("/", 1)[0], r.subsidy, r.programme, usage, r.note))
    budgets = {k: b for k, b in state.ledger.budgets.items() if b.balance or b.held or b.spent}
    return programmes.with_commitments(Ledger(tuple(out), budgets, state.ledger.holds),
                                       programmes.commitments(session))


def usage_records(session: Session) -> list[ChargeRecord]:
    rows = session.scalars(select(LedgerEntryRow.detail).where(LedgerEntryRow.kind == EntryKind.CHARGE.value,
                                                                LedgerEntryRow.detail.is_not(None)))
    out = [_usage_from_json(d) for d in rows if d]  # the ledger's project key is "org/project"
    return [dataclasses.replace(r, project=r.project.split("/", 1)[-1]) for r in out] + reservation_usage(session)


def reservation_usage(session: Session) -> list[ChargeRecord]:
    """Paid reservations as usage: the whole window and its nodes, at what was charged less what was refunded
    (the jobs inside a reservation are not charged again, so they add nothing)."""
    out = []
    for r in session.scalars(select(ReservationRow).where(ReservationRow.price.is_not(None))):
        points = (r.price or ZERO) - (r.refunded or ZERO)
        if points > 0:
            out.append(ChargeRecord(r.org.name, r.project.name, r.requester.name if r.requester else "", r.gpu_type,
                                    r.start_at, r.end_at, r.nodes * r.gpus_per_node, points))
    return out


def check_month(month: str) -> str:
    try:
        dt.datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise InputError("month", "must be YYYY-MM", month) from None
    return month


def usage(session: Session, month: str, as_csv: bool) -> Any:
    records = usage_records(session)
    if as_csv:
        return monthly_csv(records, check_month(month))
    return aggregate(records, month=check_month(month))
