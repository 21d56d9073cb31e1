"""Reservations in the service: request, approve (choose the nodes, charge the price), reject, cancel (refund
before the cut-off), list, free capacity; node states (down / up); and the bookings the control loop hands the
scheduling core (:mod:`gpucloud.core.bookings`).

States (docs/reservations.md)::

    requested --approve--> approved --(time)--> active --(time)--> ended
        |  \\--reject--> rejected       \\--cancel--> cancelled (refund if before start − cut-off)
        \\--cancel--> cancelled

Only ``requested``, ``approved``, ``rejected`` and ``cancelled`` are stored; ``active`` and ``ended`` are an
approved reservation seen at a time inside / after its window. Every change bumps the scheduler version, so
the loop sees it at its next cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpucloud.core.bookings import Booking, bookable, busy_until, choose_nodes
from gpucloud.core.types import RunningJob
from gpucloud.errors import InputError, UnknownNameError
from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import resolve_gpu_type
from gpucloud.model.job import JobSpec, JobState
from gpucloud.money import reservation as pricing
from gpucloud.money.ledger import BudgetError, Entry, EntryKind, Ledger
from gpucloud.money.tariff import Tariff
from gpucloud.service import budgets
from gpucloud.service.auth import Forbidden, Principal
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.errors import Conflict, NotFound
from gpucloud.service.store.models import JobRow, LedgerEntryRow, NodeStateRow, OrgRow, ProjectRow, ReservationRow
from gpucloud.service.store.placement import core_placement, placement_from_json
from gpucloud.service.store.tenants import DEFAULT_PROJECT, find_org, find_project
from gpucloud.service.transitions import apply_transition

if TYPE_CHECKING:
    from gpucloud.service.jobs import SubmitRequest

REQUESTED, APPROVED, REJECTED, CANCELLED = "requested", "approved", "rejected", "cancelled"
#: The longest window one reservation may cover.
MAX_WINDOW_S = 31 * 24 * 3600.0


@dataclass(frozen=True)
class ReservationRules:
    """The operator's rules: refunds before ``cancel_cutoff_s``; requests of at most ``auto_approve_nodes``
    nodes are approved at once when the nodes are free (0: every request waits for an operator)."""

    cancel_cutoff_s: float = pricing.DEFAULT_CANCEL_CUTOFF
    auto_approve_nodes: int = 0


@dataclass(frozen=True)
class ReservationRequest:
    gpu_type: str
    nodes: int
    start: float
    end: float
    name: str = ""
    org: str | None = None
    project: str | None = None
    note: str = ""


def shown_state(row: ReservationRow, now: float) -> str:
    """The state users see: an approved reservation is ``active`` in its window and ``ended`` after it."""
    if row.state != APPROVED:
        return row.state
    if now >= row.end_at:
        return "ended"
    return "active" if now >= row.start_at else APPROVED


def _gpu_type(cluster: Cluster, name: str) -> str:
    try:
        return resolve_gpu_type(name, cluster.gpu_types)
    except UnknownNameError as exc:
        raise InputError("gpu_type", exc.message.split(" (known")[0] + f" (this cluster has: "
                         f"{', '.join(sorted(cluster.gpu_types))})", name) from None


def _check_window(start: float, end: float, now: float) -> None:
    if start < now:
        raise InputError("start", f"must not be in the past (now is {now:.0f})", start)
    if end <= start:
        raise InputError("end", f"must be after start ({start:.0f})", end)
    if end - start > MAX_WINDOW_S:
        raise InputError("end", f"a reservation covers at most {MAX_WINDOW_S / 86400:.0f} days", end)


def _running(session: Session, cluster: Cluster, now: float) -> list[RunningJob]:
    """The jobs holding GPUs, as the core sees them (nodes the current cluster lacks are left out)."""
    out: list[RunningJob] = []
    holding = (JobState.ADMITTED.value, JobState.RUNNING.value, JobState.PREEMPTING.value)
    for job in session.scalars(select(JobRow).where(JobRow.state.in_(holding))):
        if not job.placement or not job.assigned_gpu_type:
            continue
        try:
            placement = core_placement(placement_from_json(job.placement), job.assigned_gpu_type, cluster)
        except (KeyError, ValueError, InputError):
            continue
        spec = JobSpec(str(job.id), "", job.num_gpus, job.submitted_at, job.walltime_s, grace=job.grace_s)
        out.append(RunningJob(spec, placement, job.started_at if job.started_at is not None else now))
    return out


@dataclass(frozen=True)
class ReservedNodes:
    """An approved reservation as plain data (what the control loop's snapshot keeps of it)."""

    id: int
    org: str
    gpu_type: str
    nodes: tuple[str, ...]
    start: float
    end: float

    @classmethod
    def of(cls, row: ReservationRow) -> ReservedNodes:
        return cls(row.id, row.org.name, row.gpu_type, tuple(str(n) for n in row.node_names or ()), row.start_at,
                   row.end_at)

    def booking(self, cluster: Cluster) -> Booking | None:
        """The core's booking (id = the reservation id as text) on the nodes ``cluster`` still has; None if none."""
        nodes = tuple(i for i in map(cluster.index_of, self.nodes) if i is not None)
        return Booking(str(self.id), self.org, self.gpu_type, nodes, self.start, self.end) if nodes else None


def bookings(session: Session, cluster: Cluster, now: float, *, exclude: int | None = None) -> list[Booking]:
    """Approved reservations that have not ended, as core bookings."""
    found = (ReservedNodes.of(r).booking(cluster) for r in visible_bookings(session, now) if r.id != exclude)
    return [b for b in found if b is not None]


def visible_bookings(session: Session, now: float) -> list[ReservationRow]:
    """Approved reservations that have not ended (everyone sees that nodes are kept; only some see for whom)."""
    return list(session.scalars(select(ReservationRow).where(ReservationRow.state == APPROVED,
                                                             ReservationRow.end_at > now)))


def down_nodes(session: Session, cluster: Cluster) -> list[int]:
    rows = session.scalars(select(NodeStateRow).where(NodeStateRow.state == "down"))
    return [i for i in (cluster.index_of(r.node) for r in rows) if i is not None]


def _project(session: Session, org: OrgRow, name: str | None) -> int:
    project = find_project(session, org.id, name or DEFAULT_PROJECT)
    if project is None:
        raise InputError("project", f"unknown project in org {org.name!r}", name)
    return project.id


@dataclass(frozen=True)
class CheckedRequest:
    """A request's org, paying project, GPU type and node size, checked against the cluster."""

    org: OrgRow
    project_id: int
    gpu_type: str
    gpus_per_node: int


def check_request(session: Session, who: Principal, req: ReservationRequest, cluster: Cluster, now: float,
                  *, to_request: bool = True) -> CheckedRequest:
    """Check a request's org (operators name one; others may only name their own, and only org-admins may
    request), GPU type, nodes, window and project: InputError naming the field, Forbidden for a member
    (``to_request`` False, for a price preview: members may ask about their own org)."""
    if who.is_operator:
        if req.org is None:
            raise InputError("org", "operators must name the org the reservation is for")
        org = find_org(session, req.org)
        if org is None:
            raise InputError("org", "unknown org", req.org)
    else:
        if who.org_id is None or (to_request and not who.is_org_admin):
            raise Forbidden("only org-admins and operators may request reservations")
        if req.org not in (None, who.org):
            raise Forbidden("you may only reserve for your own org")
        org = session.get(OrgRow, who.org_id)
        if org is None:
            raise NotFound("org", who.org)
    gpu_type = _gpu_type(cluster, req.gpu_type)
    if req.nodes < 1:
        raise InputError("nodes", "must be at least 1", req.nodes)
    size = cluster.max_node_gpus[gpu_type]
    total = sum(1 for n in cluster.nodes if n.gpu_type == gpu_type and n.gpus == size)
    if req.nodes > total:
        raise InputError("nodes", f"the cluster has {total} nodes of {size}×{gpu_type}", req.nodes)
    _check_window(req.start, req.end, now)
    return CheckedRequest(org, _project(session, org, req.project), gpu_type, size)


def request(session: Session, who: Principal, req: ReservationRequest, cluster: Cluster, now: float,
            rules: ReservationRules) -> ReservationRow:
    """An org-admin (or an operator, naming the org) asks for nodes; approved at once under the automatic rule."""
    checked = check_request(session, who, req, cluster, now)
    org, project_id, gpu_type, size = checked.org, checked.project_id, checked.gpu_type, checked.gpus_per_node
    name = req.name.strip()
    if len(name) > 100:
        raise InputError("name", "must be at most 100 characters", name)
    if name and session.scalar(select(ReservationRow.id).where(ReservationRow.org_id == org.id,
                                                               ReservationRow.name == name)) is not None:
        raise Conflict(f"org {org.name} already has a reservation named {name!r}")
    row = ReservationRow(name=name or "-", org_id=org.id, project_id=project_id, requested_by=who.user_id,
                         gpu_type=gpu_type, nodes=req.nodes, gpus_per_node=size, start_at=req.start,
                         end_at=req.end, state=REQUESTED, note=req.note, created_at=now)
    session.add(row)
    session.flush()
    if not name:
        row.name = f"r{row.id}"
    _quote(session, row, now)
    if 0 < req.nodes <= rules.auto_approve_nodes and _choose(session, row, cluster, now) is not None:
        _approve(session, row, cluster, now, note="approved by the automatic rule")
    return row


def _priced(row: ReservationRow) -> pricing.Reservation:
    """The reservation as priced: whole nodes of ``gpus_per_node`` GPUs."""
    return pricing.Reservation(str(row.id), row.org.name, budgets.project_key(row.org.name, row.project.name),
                               row.gpu_type, row.nodes, row.gpus_per_node, row.start_at, row.end_at)


def _quote(session: Session, row: ReservationRow, now: float) -> None:
    """Refuse (an InputError naming ``nodes``) a request whose project could not pay the price at the tariff
    in force now. Without a tariff reservations are free."""
    book = budgets.tariff_book(session)
    if book is None:
        return
    res = _priced(row)
    price = _price(book.in_force(now), res)
    available = budgets.load_state(session, {row.project_id: res.project}, lock=False).ledger.available(res.project)
    if available < price:
        raise InputError("nodes", f"the reservation costs {price} points but project {res.project} has "
                                  f"{available} available", row.nodes)


@dataclass(frozen=True)
class Quote:
    """What a reservation request would cost now: ``price`` None when no tariff is in force (it is free)."""

    project: str
    gpus: int
    seconds: float
    tariff: str | None
    price: Decimal | None
    available: Decimal


def quote(session: Session, who: Principal, req: ReservationRequest, cluster: Cluster, now: float) -> Quote:
    """The price of ``req`` at the tariff in force now and what its project has available (nothing stored)."""
    checked = check_request(session, who, req, cluster, now, to_request=False)
    project = session.get(ProjectRow, checked.project_id)
    assert project is not None
    key = budgets.project_key(checked.org.name, project.name)
    res = pricing.Reservation("quote", checked.org.name, key, checked.gpu_type, req.nodes, checked.gpus_per_node,
                              req.start, req.end)
    available = budgets.load_state(session, {project.id: key}, lock=False).ledger.available(key)
    tariff = budgets.tariff_in_force(session, now)
    return Quote(key, res.gpus, res.seconds, None if tariff is None else tariff.name,
                 None if tariff is None else _price(tariff, res), available)


def _price(tariff: Tariff, res: pricing.Reservation) -> Decimal:
    try:
        return pricing.price(tariff, res)
    except InputError as exc:
        raise Conflict(f"reservations cannot be priced with tariff {tariff.name!r} ({exc}): an operator must add "
                       "the reserved service class (or the GPU type) to the tariff") from None


def _choose(session: Session, row: ReservationRow, cluster: Cluster, now: float) -> tuple[int, ...] | None:
    return choose_nodes(cluster, row.gpu_type, row.nodes, row.start_at, row.end_at,
                        busy_until(_running(session, cluster, now)), bookings(session, cluster, now, exclude=row.id),
                        down_nodes(session, cluster))


def get(session: Session, who: Principal, rid: int) -> ReservationRow:
    row = session.get(ReservationRow, rid)
    if row is None or not who.sees_org(row.org_id):
        raise NotFound("reservation", rid)
    return row


def _approve(session: Session, row: ReservationRow, cluster: Cluster, now: float, note: str) -> None:
    # The scheduler-state row is locked first (bump_version updates it): approvals run one at a time, and each
    # sees the nodes the previous one took.
    bump_version(session)
    if row.start_at < now:
        raise Conflict(f"reservation {row.name} cannot be approved: its window started at {row.start_at:.0f}")
    nodes = _choose(session, row, cluster, now)
    if nodes is None:
        free = len(bookable(cluster, row.gpu_type, row.start_at, row.end_at,
                            busy_until(_running(session, cluster, now)),
                            bookings(session, cluster, now, exclude=row.id), down_nodes(session, cluster)))
        raise Conflict(f"only {free} nodes of {row.gpu_type} are free for the window; {row.nodes} asked")
    book = budgets.tariff_book(session)
    if book is not None:
        res = _priced(row)
        state = budgets.load_state(session, {row.project_id: res.project})
        tariff = book.in_force(now)
        _price(tariff, res)  # a tariff without a reserved rate is the operator's to fix: 409, before anything
        try:
            ledger = pricing.book(state.ledger, res, tariff, now)
        except BudgetError as exc:
            raise InputError("nodes", str(exc), row.nodes) from None
        entries = budgets.append(session, state, ledger)
        row.price = sum((e.amount for e in entries), Decimal("0.0000"))
    row.node_names = [cluster.nodes[n].name for n in nodes]
    row.state = APPROVED
    row.decided_at = now
    if note:
        row.note = (row.note + "\n" if row.note else "") + note


def _with_charges(session: Session, state: budgets.State, row: ReservationRow) -> budgets.State:
    """``state`` with the ledger entries of the reservation (its charge, any refund): what a refund checks."""
    key = budgets.project_key(row.org.name, row.project.name)
    rows = session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.project_id == row.project_id,
                                                        LedgerEntryRow.ref == _ref(row)).order_by(LedgerEntryRow.id))
    entries = tuple(Entry(i + 1, r.at, EntryKind(r.kind), key, r.amount, r.ref or "", row.org.name, r.subsidy,
                          r.programme, None, r.note) for i, r in enumerate(rows))
    return budgets.State(Ledger(entries, state.ledger.budgets, state.ledger.holds), state.project_ids)


def _ref(row: ReservationRow) -> str:
    return f"reservation:{row.id}"


def approve(session: Session, who: Principal, rid: int, cluster: Cluster, now: float) -> ReservationRow:
    """Operator: choose the nodes and charge the full price (at the ``reserved`` rate of the tariff now)."""
    who.require_operator()
    row = get(session, who, rid)
    if row.state != REQUESTED:
        raise Conflict(f"reservation {row.name} is {shown_state(row, now)}, not requested")
    _approve(session, row, cluster, now, note=f"approved by {who.name}")
    return row


def reject(session: Session, who: Principal, rid: int, now: float, note: str = "") -> ReservationRow:
    who.require_operator()
    row = get(session, who, rid)
    if row.state != REQUESTED:
        raise Conflict(f"reservation {row.name} is {shown_state(row, now)}, not requested")
    row.state = REJECTED
    row.decided_at = now
    row.note = (row.note + "\n" if row.note else "") + (note or f"rejected by {who.name}")
    return row


def cancel(session: Session, who: Principal, rid: int, now: float, rules: ReservationRules) -> ReservationRow:
    """The org's admin or an operator cancels; an approved one is refunded in full up to ``start − cut-off``.
    Its pending jobs are cancelled with it; its running jobs run on (the nodes are no longer kept)."""
    row = get(session, who, rid)
    who.require_manager(row.org_id)
    if row.state not in (REQUESTED, APPROVED) or now >= row.end_at:
        raise Conflict(f"reservation {row.name} is {shown_state(row, now)}; only requested or approved "
                       "reservations that have not ended can be cancelled")
    bump_version(session)
    if row.state == APPROVED and row.price:
        res = _priced(row)
        state = _with_charges(session, budgets.load_state(session, {row.project_id: res.project}), row)
        ledger = pricing.cancel(state.ledger, res, now, pricing.ReservationTerms(rules.cancel_cutoff_s))
        row.refunded = sum((e.amount for e in budgets.append(session, state, ledger)), Decimal("0.0000"))
    row.state = CANCELLED
    row.cancelled_at = now
    for job in session.scalars(select(JobRow).where(JobRow.reservation_id == row.id,
                                                    JobRow.state == JobState.PENDING.value)):
        apply_transition(session, job, JobState.CANCELLED, f"reservation {row.name} was cancelled by {who.name}", now)
    return row


def cancel_orphans(session: Session, now: float) -> list[int]:
    """Cancel the pending jobs whose reservation has ended or was rejected (they could never start); their ids.
    (Jobs of a cancelled reservation are cancelled with it.)"""
    rows = session.scalars(select(JobRow).join(ReservationRow, JobRow.reservation_id == ReservationRow.id).where(
        JobRow.state == JobState.PENDING.value,
        (ReservationRow.state == REJECTED) | (ReservationRow.end_at <= now)))
    out = []
    for job in rows:
        apply_transition(session, job, JobState.CANCELLED, "its reservation ended or was rejected before it could "
                                                           "start", now)
        out.append(job.id)
    return out


def visible(session: Session, who: Principal) -> list[ReservationRow]:
    """Operators: all; everyone else: their org's. Newest window first."""
    stmt = select(ReservationRow).order_by(ReservationRow.start_at.desc(), ReservationRow.id.desc())
    if not who.is_operator:
        stmt = stmt.where(ReservationRow.org_id == who.org_id)
    return list(session.scalars(stmt))


def find_for_job(session: Session, org_id: int, name: str) -> ReservationRow:
    """The reservation a submission names (by name, or by id as ``#12`` / ``12``), of the job's org."""
    stmt = select(ReservationRow).where(ReservationRow.org_id == org_id)
    text = name.lstrip("#")
    row = session.scalar(stmt.where(ReservationRow.name == name))
    if row is None and text.isdigit():
        row = session.scalar(stmt.where(ReservationRow.id == int(text)))
    if row is None:
        raise InputError("reservation", "no reservation of this name in your org", name)
    return row


def check_job(row: ReservationRow, gpu_type: str | None, walltime_s: float, gpus: int, cluster: Cluster,
              now: float) -> str:
    """A job may name ``row`` if it is requested or approved and not ended, the GPU type matches, it fits
    on the reservation's nodes and inside its window; the GPU type to give the job."""
    if row.state not in (REQUESTED, APPROVED) or now >= row.end_at:
        raise InputError("reservation", f"the reservation is {shown_state(row, now)}", row.name)
    if gpu_type is not None and gpu_type != row.gpu_type:
        raise InputError("gpu_type", f"reservation {row.name} has {row.gpu_type} nodes", gpu_type)
    size = cluster.max_node_gpus.get(row.gpu_type, 0)
    if gpus > row.nodes * size:
        raise InputError("num_gpus", f"reservation {row.name} has {row.nodes} × {size} GPUs", gpus)
    if walltime_s > row.end_at - row.start_at:
        raise InputError("walltime_s", f"longer than reservation {row.name}'s window "
                                       f"({row.end_at - row.start_at:.0f} s)", walltime_s)
    return row.gpu_type


#: The service classes a submission may ask for; ``reserved`` is given to the jobs that name a reservation.
SERVICE_CLASSES = ("standard", "interactive", "preemptible")


@dataclass(frozen=True)
class JobTerms:
    """What a submission's service class and reservation resolve to."""

    service_class: str
    reservation_id: int | None
    gpu_type: str | None


def job_terms(session: Session | None, org_id: int, req: SubmitRequest, gpu_type: str | None, cluster: Cluster,
              now: float) -> JobTerms:
    """Check a submission's ``service_class`` and ``reservation`` (InputError naming the field). A
    ``preemptible`` job must let the scheduler preempt it: that is what its lower price pays for."""
    if req.reservation is None:
        if req.service_class not in SERVICE_CLASSES:
            raise InputError("service_class", f"must be one of {', '.join(SERVICE_CLASSES)} (jobs in a reservation "
                             "are priced as reserved)", req.service_class)
        if req.service_class == "preemptible" and not req.preemptible:
            raise InputError("preemptible", "a job of the preemptible service class must be preemptible", False)
        return JobTerms(req.service_class, None, gpu_type)
    if session is None:
        raise ValueError("a reservation is looked up in the database: pass a session")
    row = find_for_job(session, org_id, req.reservation)
    return JobTerms(pricing.RESERVED_SERVICE_CLASS, row.id,
                    check_job(row, gpu_type, req.walltime_s, req.num_gpus, cluster, now))


@dataclass(frozen=True)
class Capacity:
    gpu_type: str
    node_gpus: int
    nodes: int
    free: int


def capacity(session: Session, cluster: Cluster, start: float, end: float, gpu_type: str | None,
             now: float) -> list[Capacity]:
    """Per GPU type: how many whole nodes could be reserved for the window as things stand now."""
    if end <= start:
        raise InputError("end", f"must be after start ({start:.0f})", end)
    types = [_gpu_type(cluster, gpu_type)] if gpu_type else sorted(cluster.gpu_types)
    busy = busy_until(_running(session, cluster, now))
    books = bookings(session, cluster, now)
    down = down_nodes(session, cluster)
    out = []
    for t in types:
        size = cluster.max_node_gpus.get(t, 0)
        if size < 1:
            continue
        total = sum(1 for n in cluster.nodes if n.gpu_type == t and n.gpus == size)
        out.append(Capacity(t, size, total, len(bookable(cluster, t, start, end, busy, books, down))))
    return out


# --- node states ------------------------------------------------------------------------------------------------

def set_node_state(session: Session, who: Principal, cluster: Cluster, node: str, state: str, reason: str,
                   now: float) -> NodeStateRow | None:
    """Operator: mark a node ``down`` (no new jobs; running ones run on) or ``up`` again."""
    who.require_operator()
    if cluster.index_of(node) is None:
        raise NotFound("node", node)
    if state not in ("up", "down"):
        raise InputError("state", "must be up or down", state)
    bump_version(session)
    row = session.get(NodeStateRow, node)
    if state == "up":
        if row is not None:
            session.delete(row)
        return None
    if row is None:
        row = NodeStateRow(node=node, state="down", reason=reason, at=now, by_user=who.name)
        session.add(row)
    else:
        row.reason, row.at, row.by_user = reason, now, who.name
    return row


def node_states(session: Session) -> dict[str, NodeStateRow]:
    return {r.node: r for r in session.scalars(select(NodeStateRow))}
