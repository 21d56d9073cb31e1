"""The start-time preview of a job before it is submitted (the submit form's "would start"): the submission's
fields checked as ``POST /jobs`` checks them, turned into the core's :class:`~gpucloud.model.job.JobSpec`, and
forecast as the last job of the current queue (:meth:`gpucloud.service.forecasts.Forecaster.preview`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec
from gpucloud.service.auth import Principal
from gpucloud.service.jobs import SubmitRequest, check_request, submit_org_name
from gpucloud.service.store.tenants import DEFAULT_PROJECT, find_org, find_project

#: the id the previewed job has in the forward run
PREVIEW_ID = "preview"


def preview_spec(session: Session, who: Principal, req: SubmitRequest, cluster: Cluster, now: float) -> JobSpec:
    """``req`` as the core would see it if ``who`` submitted it now; :class:`InputError` naming the field when it
    could not be submitted as it is. A reservation named is not taken into account (the job is previewed in the
    open queue)."""
    org_name = submit_org_name(who, req.org)
    org = find_org(session, org_name)
    if org is None:
        raise InputError("org", "unknown org", org_name)
    project = find_project(session, org.id, req.project or DEFAULT_PROJECT)
    if project is None:
        raise InputError("project", f"unknown project in org {org.name!r}", req.project)
    priority, gpu_type = check_request(req, who, org.name, project.name, cluster, now)
    return JobSpec(id=PREVIEW_ID, org=org.name, num_gpus=req.num_gpus, submit_time=now, walltime=req.walltime_s,
                   gpu_type=gpu_type, nodes=req.nodes, priority=priority, preemptible=req.preemptible,
                   grace=req.grace_s, user=who.name, project=project.name)
