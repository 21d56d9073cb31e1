"""Submissions that are more than one plain job: a job array (one job per task, all created in one transaction)
and a job with a dependency (its references resolved to jobs and arrays the submitter may see).

An array's tasks are ordinary jobs with ``array_job_id`` (the job id of its first task, as Slurm's
``SLURM_ARRAY_JOB_ID``), ``array_task_id`` (the index) and ``array_throttle``; each task's environment also has
``GPUCLOUD_ARRAY_JOB_ID`` and ``GPUCLOUD_ARRAY_TASK_ID``. The submission's idempotency key is kept on the first
task, so a retried submission returns the same array. Everything is validated first (the same checks as a plain
submission, then the array and the dependency); nothing is written unless all of it is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.core.dependencies import Condition, Target
from gpucloud.errors import InputError
from gpucloud.model.array_spec import ArraySpec, parse_array
from gpucloud.model.cluster import Cluster
from gpucloud.model.dependency_spec import Dependency, parse_dependency
from gpucloud.model.job import JobState
from gpucloud.model.limits import CommandLimits
from gpucloud.service.auth import Principal
from gpucloud.service.jobs import SubmitRequest
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.models import JobEventRow, JobRow, cast_table
from gpucloud.service.submitter import Prepared, TenantCache, prepare

ARRAY_JOB_ENV = "GPUCLOUD_ARRAY_JOB_ID"
ARRAY_TASK_ENV = "GPUCLOUD_ARRAY_TASK_ID"


@dataclass(frozen=True, slots=True)
class BatchSubmitted:
    """The job submitted (an array's first task), whether this submission created it, and how many jobs it
    made."""

    job_id: int
    created: bool
    jobs: int


def submit_batch(sessions: sessionmaker[Session], tenants: TenantCache, who: Principal, req: SubmitRequest,
                 cluster: Cluster, limits: CommandLimits, now: float) -> BatchSubmitted:
    """Validate and store a submission with ``array`` and/or ``dependency`` in one transaction.
    :class:`InputError` naming the field for anything wrong; nothing is stored then. A submission whose idempotency
    key was seen before returns that job (``created`` False), as a plain one does."""
    key = req.idempotency_key
    if key is not None and (existing := _by_key(sessions, who, key)) is not None:
        return BatchSubmitted(existing, False, 0)
    spec = None if req.array is None else parse_array(req.array, limits.array_tasks)
    dependency = None if req.dependency is None else parse_dependency(req.dependency)
    prepared = prepare(tenants, who, req, cluster, limits, now)
    try:
        with sessions.begin() as session:
            values = dict(prepared.values)
            if dependency is not None:
                values["dependency"] = resolve(session, who, dependency, in_array=spec is not None).to_json()
            ids = _insert(session, prepared, values, spec)
            bump_version(session)
    except IntegrityError:  # the same key, submitted at the same moment through another request
        if key is None or (existing := _by_key(sessions, who, key)) is None:
            raise
        return BatchSubmitted(existing, False, 0)
    return BatchSubmitted(ids[0], True, len(ids))


def _by_key(sessions: sessionmaker[Session], who: Principal, key: str) -> int | None:
    with sessions() as session:
        return session.scalar(select(JobRow.id).where(JobRow.user_id == who.user_id, JobRow.idempotency_key == key))


def _insert(session: Session, prepared: Prepared, values: dict[str, Any], spec: ArraySpec | None) -> list[int]:
    """Insert the job (or every task of the array, the first one first) and a ``submitted`` event for each."""
    jobs, events = cast_table(JobRow), cast_table(JobEventRow)
    conn = session.connection()
    if spec is None:
        ids = [conn.execute(insert(jobs).returning(jobs.c.id), [values]).scalar_one()]
        reasons = [prepared.event_reason]
    else:
        env = dict(values["env"])
        task = {**values, "array_throttle": spec.throttle}
        first_index, *rest = spec.indices
        first = conn.execute(insert(jobs).returning(jobs.c.id), [{**task, "array_task_id": first_index}]).scalar_one()
        array_env = {**env, ARRAY_JOB_ENV: str(first)}
        conn.execute(update(jobs).where(jobs.c.id == first).values(
            array_job_id=first, env={**array_env, ARRAY_TASK_ENV: str(first_index)}))
        ids = [first]
        if rest:
            rows = [{**task, "array_job_id": first, "array_task_id": i, "idempotency_key": None,
                     "env": {**array_env, ARRAY_TASK_ENV: str(i)}} for i in rest]
            ids += conn.execute(insert(jobs).returning(jobs.c.id, sort_by_parameter_order=True), rows).scalars()
        reasons = [f"{prepared.event_reason} (array {first}, task {i})" for i in spec.indices]
    conn.execute(insert(events), [{"job_id": jid, "at": values["submitted_at"], "from_state": None,
                                   "to_state": JobState.PENDING.value, "reason": why}
                                  for jid, why in zip(ids, reasons, strict=True)])
    return ids


def resolve(session: Session, who: Principal, dep: Dependency, *, in_array: bool) -> Condition:
    """The dependency's references as :class:`Target`\\ s: ``12`` is job 12, or every task of the array whose id
    is 12; ``12_3`` is task 3 of array 12. A job ``who`` may not see is not found, as if it did not exist."""
    whole = dep.text
    plain = {r.job for r in dep.refs if r.task is None}
    tasks = {(r.job, r.task) for r in dep.refs if r.task is not None}
    by_id = {j.id: j for j in session.scalars(select(JobRow).where(JobRow.id.in_(plain)))} if plain else {}
    by_task: dict[tuple[int, int], JobRow] = {}
    if tasks:
        rows = session.scalars(select(JobRow).where(tuple_(JobRow.array_job_id, JobRow.array_task_id).in_(tasks)))
        by_task = {(j.array_job_id, j.array_task_id): j for j in rows}  # type: ignore[misc]
    targets: list[Target] = []
    for ref in dep.refs:
        job = by_id.get(ref.job) if ref.task is None else by_task.get((ref.job, ref.task))
        if job is None or not who.sees_job(job):
            raise InputError("dependency", f"job {ref.target} not found", whole)
        whole_array = ref.task is None and job.array_job_id == job.id
        if ref.kind == "aftercorr":
            if not in_array:
                raise InputError("dependency", "aftercorr is for the tasks of a job array (give array too)", whole)
            if not whole_array:
                raise InputError("dependency", f"aftercorr needs a whole array; job {ref.target} is not one", whole)
        targets.append(Target(ref.kind, array=job.id) if whole_array else Target(ref.kind, job=job.id))
    return Condition(tuple(targets), dep.any_of, dep.singleton)
