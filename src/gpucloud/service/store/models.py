"""SQLAlchemy ORM models of the control plane: orgs, projects, users, tokens, quotas, jobs, events.

JSON columns only (no pickle). Times are float epoch seconds. Job ids are integers; the scheduling core sees
them as strings (``str(job.id)``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("operator", "org-admin", "member")


def cast_table(model: type[Base]) -> Table:
    """A model's table, typed as a Core :class:`Table` (for Core statements)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class OrgRow(Base):
    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[float] = mapped_column(Float)
    #: "university", "institute", "company", ... ("": none); subsidy programmes may be open to a kind.
    kind: Mapped[str] = mapped_column(String(40), default="", server_default="")


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_projects_org_id_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)

    org: Mapped[OrgRow] = relationship(lazy="joined", innerjoin=True)


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'org-admin', 'member')", name="role"),
        CheckConstraint("role = 'operator' OR org_id IS NOT NULL", name="org_required"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    #: When an operator or org-admin deactivated the user (NULL: active); their tokens are refused meanwhile.
    deactivated_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    org: Mapped[OrgRow | None] = relationship(lazy="joined")


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    user: Mapped[UserRow] = relationship(lazy="joined", innerjoin=True)


class QuotaRow(Base):
    __tablename__ = "quotas"
    __table_args__ = (
        UniqueConstraint("org_id", "gpu_type", name="uq_quotas_org_id_gpu_type"),
        CheckConstraint("guaranteed >= 0", name="guaranteed_nonneg"),
        CheckConstraint("borrow_limit IS NULL OR borrow_limit >= 0", name="borrow_limit_nonneg"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    gpu_type: Mapped[str] = mapped_column(String(100))
    guaranteed: Mapped[int] = mapped_column(Integer, default=0)
    #: Extra idle GPUs the org may borrow beyond ``guaranteed``; NULL = unlimited.
    borrow_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)

    org: Mapped[OrgRow] = relationship(lazy="joined", innerjoin=True)


class JobRow(Base):
    """A submitted job. ``row_version`` makes every UPDATE optimistic: a concurrent change raises
    :class:`sqlalchemy.orm.exc.StaleDataError` instead of being silently overwritten."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_jobs_user_id_idempotency_key"),
        Index("ix_jobs_state_id", "state", "id"),
        Index("ix_jobs_org_id_id", "org_id", "id"),
        Index("ix_jobs_user_id_id", "user_id", "id"),
        Index("ix_jobs_ended_at", "ended_at"),
        Index("ix_jobs_array_job_id", "array_job_id", "array_task_id"),
        CheckConstraint("num_gpus >= 1", name="num_gpus_positive"),
        CheckConstraint("walltime_s > 0", name="walltime_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    argv: Mapped[list[Any]] = mapped_column(JSON)
    env: Mapped[dict[str, Any]] = mapped_column(JSON)
    cwd: Mapped[str] = mapped_column(Text, default="")
    num_gpus: Mapped[int] = mapped_column(Integer)
    nodes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gpu_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    walltime_s: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    priority_class: Mapped[str] = mapped_column(String(20), default="normal")
    preemptible: Mapped[bool] = mapped_column(Boolean, default=True)
    grace_s: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[str] = mapped_column(String(20))
    #: Why it is pending (set by the control loop) or why it ended.
    reason: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[float] = mapped_column(Float)
    #: When it last entered the queue (submit or requeue after preemption).
    queued_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: ``[{"node": name, "gpus": [0, 1]}, ...]`` while admitted/running (kept after it ends).
    placement: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    assigned_gpu_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    handle: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    preemptions: Mapped[int] = mapped_column(Integer, default=0)
    #: GPU-seconds of service in earlier run segments (for LAS-style policies); the loop maintains it.
    attained_gpu_s: Mapped[float] = mapped_column(Float, default=0.0)
    #: The job's position in the policy's queue order as of the last cycle (NULL: not ranked yet).
    queue_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: What the job is priced as (a service class of the tariff); ``reserved`` for jobs in a reservation.
    service_class: Mapped[str] = mapped_column(String(20), default="standard")
    #: The reservation it runs in (its nodes, its window; paid by the reservation).
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("reservations.id"), nullable=True)
    #: While preempting: the pending job it makes room for (the core keeps that job's claim on its GPUs).
    preempted_for: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: When the current run was told to stop (preempted, or its cancellation's SIGTERM); NULL while it was not.
    stop_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: A task of a job array: the array's id (the job id of its first task), the task's index, and at most how
    #: many of the array's tasks hold GPUs at once (NULL: no limit). All NULL for a job that is not in an array.
    array_job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    array_task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    array_throttle: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: What it waits for before it may run (:class:`gpucloud.core.dependencies.Condition` as JSON); NULL: nothing.
    dependency: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: the processes of a service's replica: the service (``services.id``, kept after the service is deleted)
    #: and the replica's slot; None for every other job
    service_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    replica_slot: Mapped[int | None] = mapped_column(Integer, nullable=True)
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    org: Mapped[OrgRow] = relationship(lazy="joined", innerjoin=True)
    project: Mapped[ProjectRow] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[UserRow] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - SQLAlchemy reads it as is


class JobEventRow(Base):
    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[float] = mapped_column(Float)
    from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")


class SchedulerStateRow(Base):
    """One row (id 1): ``version`` is bumped by every change that could alter a scheduling decision."""

    __tablename__ = "scheduler_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    #: The leadership term of the control loop that may write: every write of the loop checks it (fencing).
    leader_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: A random id of this installation (this database), given at creation: hosts keep installations apart.
    installation: Mapped[str] = mapped_column(String(32), default="", server_default="")


class JobLogRow(Base):
    """A piece of one rank's stdout or stderr, copied from its host by the control loop: bytes
    ``[offset, offset + size)`` of the file. Pieces are appended to while small (see :mod:`gpucloud.service.logs`)."""

    __tablename__ = "job_logs"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream: Mapped[str] = mapped_column(String(8), primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


# --- money (issue 4): tariffs, budgets, the append-only ledger ------------------------------------------------

_QUANTUM = Decimal("0.0001")


class Points(TypeDecorator[Decimal]):
    """Points: ``NUMERIC(20, 4)`` on PostgreSQL; on SQLite (which has no exact decimal type) the Decimal's
    text. Never a float either way."""

    impl = Numeric(20, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 4, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(_QUANTUM)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(_QUANTUM)


class TariffRow(Base):
    """One tariff version (from a tariff file or the API). ``spec`` is the file's mapping for it, numbers as
    strings (exact decimals)."""

    __tablename__ = "tariffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    valid_from: Mapped[float] = mapped_column(Float, unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class BudgetRow(Base):
    """A project's budget: its settings, and the ledger's running totals (``balance``, ``held``, ``spent``),
    written in the same transaction as every entry so that reading a project's state never sums its history;
    :meth:`gpucloud.money.Ledger.verify` over the entries checks them. Locked ``FOR UPDATE`` (PostgreSQL) by
    every ledger operation on the project."""

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), unique=True)
    cap: Mapped[Decimal | None] = mapped_column(Points(), nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    balance: Mapped[Decimal] = mapped_column(Points(), server_default="0")
    held: Mapped[Decimal] = mapped_column(Points(), server_default="0")
    spent: Mapped[Decimal] = mapped_column(Points(), server_default="0")


class ProgrammeTotalRow(Base):
    """What a subsidy programme has paid (SUBSIDY entries) and holds (the programme's parts of open holds) for
    one org: running totals written with the entries, so a hold never sums the programme's history."""

    __tablename__ = "programme_totals"

    programme: Mapped[str] = mapped_column(String(100), primary_key=True)
    org: Mapped[str] = mapped_column(String(100), primary_key=True)
    paid: Mapped[Decimal] = mapped_column(Points(), server_default="0")
    held: Mapped[Decimal] = mapped_column(Points(), server_default="0")


class OpenHoldRow(Base):
    """A hold not yet released (the run it belongs to is admitted or running): inserted with its HOLD entry,
    deleted with its RELEASE entry. ``detail``: the run and its programme, as on the HOLD entry."""

    __tablename__ = "open_holds"

    ref: Mapped[str] = mapped_column(String(200), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Points())
    subsidy: Mapped[Decimal] = mapped_column(Points())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class LedgerEntryRow(Base):
    """One ledger line (:class:`gpucloud.money.ledger.Entry`): append-only, never updated or deleted.
    ``ref`` is the run (``<job id>#<run>``) or empty (NULL) for top-ups and expiries; (ref, kind) is unique so
    a repeated settle can never charge twice. ``detail``: the run of a hold, the usage record of a charge."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("ref", "kind", name="uq_ledger_entries_ref_kind"),
        Index("ix_ledger_entries_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Points())
    ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[float] = mapped_column(Float)
    subsidy: Mapped[Decimal] = mapped_column(Points())
    programme: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ProgrammeRow(Base):
    """A subsidy programme (:class:`gpucloud.money.subsidy.Programme`). What it has paid and holds is derived
    from the ledger (the ``subsidy``/``programme`` columns of ``ledger_entries``), never kept here."""

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: The share it pays, an exact fraction as text ("1/2").
    share: Mapped[str] = mapped_column(String(40))
    total: Mapped[Decimal] = mapped_column(Points())
    org_cap: Mapped[Decimal | None] = mapped_column(Points(), nullable=True)
    orgs: Mapped[list[Any]] = mapped_column(JSON)
    org_kinds: Mapped[list[Any]] = mapped_column(JSON)
    valid_from: Mapped[float | None] = mapped_column(Float, nullable=True)
    valid_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)


# --- reservations and node states (issue 4 / 5) ----------------------------------------------------------------

class ReservationRow(Base):
    """An advance reservation: ``nodes`` whole nodes of ``gpu_type`` for ``org`` during ``[start, end)``.

    ``state``: requested → approved (nodes chosen, price charged) | rejected; requested or approved → cancelled
    (refunded before the cut-off). An approved reservation whose end has passed is shown as ended.
    ``node_names`` are set at approval."""

    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_reservations_org_id_name"),
        CheckConstraint("nodes >= 1", name="nodes_positive"),
        CheckConstraint("end_at > start_at", name="window_positive"),
        Index("ix_reservations_state_end_at", "state", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    gpu_type: Mapped[str] = mapped_column(String(100))
    nodes: Mapped[int] = mapped_column(Integer)
    #: GPUs on each reserved node (the type's node size when requested; the price is per GPU)
    gpus_per_node: Mapped[int] = mapped_column(Integer)
    node_names: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    start_at: Mapped[float] = mapped_column(Float)
    end_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(20))
    price: Mapped[Decimal | None] = mapped_column(Points(), nullable=True)
    refunded: Mapped[Decimal | None] = mapped_column(Points(), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    cancelled_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    org: Mapped[OrgRow] = relationship(lazy="joined", innerjoin=True)
    project: Mapped[ProjectRow] = relationship(lazy="joined", innerjoin=True)
    requester: Mapped[UserRow | None] = relationship(lazy="joined")


class NodeStateRow(Base):
    """A node an operator marked down (no new jobs start on it); a node without a row is up."""

    __tablename__ = "node_states"

    node: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[float] = mapped_column(Float)
    by_user: Mapped[str] = mapped_column(String(100), default="")


class FairshareUsageRow(Base):
    """Fair share's decayed GPU-seconds of an org on a GPU type as of ``as_of`` (the loop saves it
    periodically; see :mod:`gpucloud.service.fairshare_usage`)."""

    __tablename__ = "fairshare_usage"

    org: Mapped[str] = mapped_column(String(100), primary_key=True)
    gpu_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    gpu_seconds: Mapped[float] = mapped_column(Float)
    as_of: Mapped[float] = mapped_column(Float)


# --- services (issue 14) ---------------------------------------------------------------------------------------

class ServiceRow(Base):
    """A long-running service whose replicas follow a demand (``gpucloud.model.service_file.DemandIn`` as JSON);
    its replicas run as jobs of ``user_id`` in ``project_id`` (``JobRow.service_id``)."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cls: Mapped[str] = mapped_column(String(20))
    gpus_per_replica: Mapped[int] = mapped_column(Integer)
    gpu_type: Mapped[str] = mapped_column(String(100))
    sites: Mapped[list[Any]] = mapped_column(JSON)
    lead_s: Mapped[float] = mapped_column(Float, default=0.0)
    grace_s: Mapped[float] = mapped_column(Float, default=0.0)
    demand: Mapped[dict[str, Any]] = mapped_column(JSON)
    argv: Mapped[list[Any]] = mapped_column(JSON)
    env: Mapped[dict[str, Any]] = mapped_column(JSON)
    cwd: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)

    org: Mapped[OrgRow] = relationship(lazy="joined", innerjoin=True)
    project: Mapped[ProjectRow] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[UserRow] = relationship(lazy="joined", innerjoin=True)
