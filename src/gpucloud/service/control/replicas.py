"""Service replicas in the control loop: read from the database into the core, and the core's replica starts and
stops applied.

A replica runs as a job row of the service's owner (``jobs.service_id``, ``jobs.replica_slot``), so the
executors launch, watch, log and recover it like any job (local processes, or Ray nodes). The core holds replicas
apart from the queue (:mod:`gpucloud.core.services`):

* **read**: each stored service becomes a :class:`~gpucloud.model.service.ServiceSpec` (a service the cluster no
  longer fits is logged and left out, so its replicas stop); each replica row holding GPUs becomes a
  :class:`~gpucloud.core.services.Replica` — except one being stopped (``cancel_requested``): its GPUs count as
  free from the moment the core decided so, as in the simulator;
* **start**: a new job row in state ``admitted`` with the core's placement, launched at once; walltime: ten years,
  not preemptible (the core stops replicas, never the queue);
* **stop**: ``cancel_requested`` on the row; the loop sends SIGTERM, SIGKILL after the service's grace.

A replica whose processes end by themselves (a crash) leaves a job row that holds nothing: at the next cycle the
core finds the service one replica short and starts another — a dead replica is restarted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gpucloud.core.services import Replica, ReplicaChange, ServiceSet
from gpucloud.core.types import CycleResult
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobState
from gpucloud.model.service import ServiceClass, ServiceSpec
from gpucloud.model.service_file import ServiceIn
from gpucloud.service.control.txn import Change, JobValues, Step, Transactions, job_select, jobs_table
from gpucloud.service.store.models import JobEventRow, JobRow, ServiceRow
from gpucloud.service.store.placement import core_placement, placed_nodes, placement_from_json, placement_to_json

log = logging.getLogger("gpucloud.control")

#: a replica's walltime: it runs until the core stops it
REPLICA_WALLTIME_S = 10 * 365 * 86400.0
PENDING = frozenset({JobState.PENDING.value})


@dataclass(frozen=True)
class ServiceData:
    """A stored service as the loop needs it (plain data, read in the snapshot's transaction)."""

    id: int
    name: str
    model: dict[str, Any]
    org_id: int
    project_id: int
    user_id: int
    argv: list[Any]
    env: dict[str, Any]
    cwd: str
    grace_s: float


def read_services(session: Session) -> list[ServiceData]:
    out = []
    for row in session.scalars(select(ServiceRow).order_by(ServiceRow.id)):
        model = {"name": row.name, "class": row.cls, "gpus_per_replica": row.gpus_per_replica,
                 "gpu_type": row.gpu_type, "sites": list(row.sites), "lead_s": row.lead_s, "demand": row.demand,
                 "org": row.org.name}
        out.append(ServiceData(row.id, row.name, model, row.org_id, row.project_id, row.user_id, list(row.argv),
                               dict(row.env), row.cwd, row.grace_s))
    return out


def core_state(services: list[ServiceData], active: list[Any], cluster: Cluster,
               now: float) -> tuple[list[ServiceSpec], list[Replica]]:
    """The services the core serves and the replicas holding GPUs (see the module)."""
    specs = []
    for s in services:
        try:
            specs.append(ServiceIn.model_validate(s.model).to_spec(cluster))
        except (InputError, ValueError) as exc:
            log.warning("service %s does not fit the cluster (%s); its replicas are stopped", s.name, exc)
    names = {s.id: s.name for s in services}
    replicas = []
    for row in active:
        if row.service_id is None or row.cancel_requested:
            continue
        try:
            placement = core_placement(placement_from_json(row.placement), row.assigned_gpu_type, cluster)
        except (KeyError, ValueError) as exc:
            log.warning("replica job %s holds GPUs the cluster does not have (%s)", row.id, exc)
            continue
        replicas.append(Replica(names.get(row.service_id, f"deleted-{row.service_id}"), int(row.replica_slot or 0),
                                placement, row.started_at if row.started_at is not None else now))
    return specs, replicas


def orphans(txns: Transactions, pending: list[Any], now: float) -> None:
    """Cancel the replica rows back in the queue (recovery requeues an admitted row whose launch never started):
    a replica is never queued; the core starts another in its place."""
    stale = [row.id for row in pending if row.service_id is not None]
    if stale:
        txns.apply([Change(jid, PENDING, (Step(JobState.CANCELLED, "a replica that never started before a restart; "
                                               "its service starts another", now),)) for jid in stale])


def lent_nodes(services: ServiceSet | None, cluster: Cluster) -> frozenset[str]:
    """The names of the nodes of ``ran`` services' sites: GPUs there that jobs use are lent by the RAN."""
    if services is None:
        return frozenset()
    return frozenset(cluster.nodes[n].name for s in services.specs if s.cls is ServiceClass.RAN for n in s.nodes)


def apply(txns: Transactions, services: list[ServiceData], active: list[Any], result: CycleResult,
          cluster: Cluster, now: float) -> tuple[list[int], list[JobValues]]:
    """Commit the cycle's replica stops and starts (one transaction): the job ids to stop, the new rows to
    launch."""
    if not (result.replica_starts or result.replica_stops):
        return [], []
    by_name = {s.name: s for s in services}
    ids = {s.id: s.name for s in services}
    rows = {(ids.get(r.service_id, f"deleted-{r.service_id}"), int(r.replica_slot or 0)): r.id
            for r in active if r.service_id is not None and not r.cancel_requested}
    stops = [rows[(c.service, c.slot)] for c in result.replica_stops if (c.service, c.slot) in rows]
    with txns.own() as session:
        if stops:
            jobs = jobs_table()
            session.connection().execute(update(jobs).where(jobs.c.id.in_(stops)).values(
                cancel_requested=True, reason=f"replica stopped: {result.replica_stops[0].reason}",
                row_version=jobs.c.row_version + 1))
        new = [_insert(session, by_name[c.service], c, cluster, now) for c in result.replica_starts
               if c.service in by_name]
        session.flush()
        started = [JobValues(dict(r._mapping))
                   for r in session.execute(job_select().where(jobs_table().c.id.in_(new)))] if new else []
    return stops, started


def _insert(session: Session, s: ServiceData, change: ReplicaChange, cluster: Cluster, now: float) -> int:
    placed = placed_nodes(change.placement, cluster)
    where = ", ".join(f"{n.node}:{','.join(map(str, n.gpus))}" for n in placed)
    reason = f"replica {change.slot} of service {s.name} ({change.reason}), on {where}"
    row = JobRow(org_id=s.org_id, project_id=s.project_id, user_id=s.user_id, name=f"{s.name}/{change.slot}",
                 argv=list(s.argv), env={**s.env, "GPUCLOUD_SERVICE": s.name, "GPUCLOUD_REPLICA": str(change.slot)},
                 cwd=s.cwd, num_gpus=change.placement.gpus, nodes=1, gpu_type=change.placement.gpu_type,
                 walltime_s=REPLICA_WALLTIME_S, priority=0, preemptible=False, grace_s=s.grace_s,
                 state=JobState.ADMITTED.value, reason=reason, submitted_at=now, queued_at=now,
                 placement=placement_to_json(placed), assigned_gpu_type=change.placement.gpu_type,
                 service_id=s.id, replica_slot=change.slot)
    session.add(row)
    session.flush()
    session.add(JobEventRow(job_id=row.id, at=now, from_state=None, to_state=JobState.ADMITTED.value, reason=reason))
    return row.id
