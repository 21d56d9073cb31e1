"""The start-time preview of a job before it is submitted (the submit form's "would start"): the submission's
fields checked as ``POST /jobs`` checks them, turned into the core's :class:`~gpucloud.model.job.JobSpec`, and
forecast as the last job of the current queue (:meth:`gpucloud.service.forecasts.Forecaster.preview`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec
from gpucloud.service.auth import Principal
from gpucloud.service.jobs import SubmitRequest, check_in_session

#: the id the previewed job has in the forward run
PREVIEW_ID = "preview"


def preview_spec(session: Session, who: Principal, req: SubmitRequest, cluster: Cluster, now: float) -> JobSpec:
    """``req`` as the core would see it if ``who`` submitted it now; :class:`InputError` naming the field when it
    could not be submitted as it is. A reservation named is not taken into account (the job is previewed in the
    open queue)."""
    c = check_in_session(session, who, req, cluster, now)
    return JobSpec(id=PREVIEW_ID, org=c.org.name, num_gpus=req.num_gpus, submit_time=now, walltime=req.walltime_s,
                   gpu_type=c.gpu_type, nodes=req.nodes, priority=c.priority, preemptible=req.preemptible,
                   grace=req.grace_s, user=who.name, project=c.project.name)
