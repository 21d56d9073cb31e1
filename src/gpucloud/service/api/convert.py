"""Database rows → API response models."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from gpucloud.core.dependencies import Condition
from gpucloud.service.api.schemas import (
    JobDetail,
    JobEventOut,
    JobOut,
    PlacedNodeOut,
    ProjectOut,
    QuotaOut,
    TokenCreated,
    TokenOut,
    UserOut,
)
from gpucloud.service.jobs import job_placement
from gpucloud.service.runtime import ran_seconds
from gpucloud.service.store.models import JobEventRow, JobRow, ProjectRow, QuotaRow, TokenRow, UserRow

JobOutT = TypeVar("JobOutT", bound=JobOut)


def job_out(job: JobRow, now: float) -> JobOut:
    """The job as the API shows it at ``now`` (how long it has run depends on it)."""
    return JobOut.model_validate(_job_fields(job, now))


def job_detail(job: JobRow, events: list[JobEventRow], now: float) -> JobDetail:
    events_out = [JobEventOut.model_validate(e) for e in events]
    return JobDetail.model_validate({**_job_fields(job, now), "events": events_out})


def with_costs(out: JobOutT, costs: tuple[Decimal | None, Decimal | None] | None) -> JobOutT:
    """``out`` with the job's estimated and final cost (:func:`gpucloud.service.budgets.jobs_costs`) filled in."""
    estimated, final = costs or (None, None)
    out.estimated_cost = None if estimated is None else str(estimated)
    out.final_cost = None if final is None else str(final)
    return out


def _job_fields(job: JobRow, now: float) -> dict[str, object]:
    placement = None if job.placement is None else [
        PlacedNodeOut(node=p.node, gpus=list(p.gpus)) for p in job_placement(job)
    ]
    return {
        "id": job.id, "name": job.name, "org": job.org.name, "project": job.project.name, "user": job.user.name,
        "argv": [str(a) for a in job.argv], "env": {str(k): str(v) for k, v in job.env.items()}, "cwd": job.cwd,
        "num_gpus": job.num_gpus, "nodes": job.nodes, "gpu_type": job.gpu_type, "walltime_s": job.walltime_s,
        "priority": job.priority_class, "priority_value": job.priority, "preemptible": job.preemptible,
        "grace_s": job.grace_s, "state": job.state, "reason": job.reason, "cancel_requested": job.cancel_requested,
        "submitted_at": job.submitted_at, "queued_at": job.queued_at, "started_at": job.started_at,
        "ended_at": job.ended_at, "exit_code": job.exit_code, "placement": placement,
        "assigned_gpu_type": job.assigned_gpu_type, "run_count": job.run_count, "preemptions": job.preemptions,
        "service_class": job.service_class, "reservation_id": job.reservation_id, "ran_s": ran_seconds(job, now),
        "array_job_id": job.array_job_id, "array_task_id": job.array_task_id, "array_throttle": job.array_throttle,
        "dependency": None if job.dependency is None else Condition.from_json(job.dependency).text,
    }


def project_out(p: ProjectRow) -> ProjectOut:
    return ProjectOut(id=p.id, org=p.org.name, name=p.name, created_at=p.created_at)


def user_out(u: UserRow) -> UserOut:
    return UserOut.model_validate(
        {"id": u.id, "name": u.name, "role": u.role, "org": None if u.org is None else u.org.name,
         "created_at": u.created_at, "active": u.deactivated_at is None, "deactivated_at": u.deactivated_at}
    )


def token_out(t: TokenRow) -> TokenOut:
    return TokenOut(id=t.id, user=t.user.name, prefix=t.prefix, description=t.description,
                    created_at=t.created_at, revoked_at=t.revoked_at)


def token_created(t: TokenRow, raw: str) -> TokenCreated:
    return TokenCreated.model_validate({**token_out(t).model_dump(), "token": raw})


def quota_out(q: QuotaRow) -> QuotaOut:
    return QuotaOut(org=q.org.name, gpu_type=q.gpu_type, guaranteed=q.guaranteed, borrow_limit=q.borrow_limit)
