"""The database as the scheduling core sees it: one read of the version, the pending and active jobs, the orgs;
and :func:`build_scheduler`, which turns it into a fresh :class:`Scheduler`."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from gpucloud.core.scheduler import Scheduler
from gpucloud.core.types import PendingJob, RunningJob, WaitReason
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobState
from gpucloud.model.org import Org
from gpucloud.service.jobs import active_jobs, job_placement, job_spec, pending_jobs
from gpucloud.service.store.engine import scheduler_version
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import core_placement
from gpucloud.service.store.tenants import load_orgs

log = logging.getLogger("gpucloud.control")

#: How the loop words a preemption in the victim's reason; the waiting job's id is read back from it.
PREEMPTED_FOR = "preempted for job {for_job}: {why}"
_PREEMPTED_FOR_RE = re.compile(r"^preempted for job (\d+):")


@dataclass
class Snapshot:
    version: int
    pending: list[JobRow]
    active: list[JobRow]
    orgs: dict[str, Org]


def read_snapshot(session: Session) -> Snapshot:
    """The version first, then the rows: a change after the version read shows up as a new version later."""
    version = scheduler_version(session)
    return Snapshot(version, pending_jobs(session), active_jobs(session), load_orgs(session))


@dataclass
class Built:
    scheduler: Scheduler
    #: pending jobs the core refused (e.g. no node fits after a cluster reload): job id → reason
    unschedulable: dict[int, str] = field(default_factory=dict)


def build_scheduler(snap: Snapshot, cluster: Cluster, policy: str, now: float) -> Built:
    """A scheduler holding the snapshot's active jobs and queue. Rows that do not fit the current cluster are
    logged and left out (the active ones keep running; pending ones get a wait reason)."""
    sched = Scheduler(cluster, snap.orgs, policy)
    built = Built(sched)
    for row in snap.active:
        gpu_type = row.assigned_gpu_type
        try:
            if gpu_type is None:
                raise KeyError("no GPU type recorded")
            placement = core_placement(job_placement(row), gpu_type, cluster)
            sched.restore_running(RunningJob(
                job_spec(row), placement, row.started_at if row.started_at is not None else now,
                attained_before=row.attained_gpu_s, preempting=row.state == JobState.PREEMPTING.value))
        except (KeyError, ValueError, InputError) as exc:
            log.warning("job %s holds GPUs the current cluster does not have (%s); left out of scheduling",
                        row.id, exc)
    for row in snap.pending:
        try:
            sched.submit(PendingJob(job_spec(row), row.attained_gpu_s, None, row.queued_at))
        except InputError as exc:
            built.unschedulable[row.id] = f"{WaitReason.UNSCHEDULABLE}: {exc}"
    for row in snap.active:
        match = _PREEMPTED_FOR_RE.match(row.reason or "") if row.state == JobState.PREEMPTING.value else None
        if match and match.group(1) in sched.state.pending:
            sched.state.nominated.setdefault(match.group(1), set()).add(str(row.id))
    return built
