"""A submission's body as the service takes it: :func:`submit_request` (the route and the fast path use it)."""

from __future__ import annotations

from gpucloud.service.api.schemas import JobSubmit
from gpucloud.service.jobs import SubmitRequest


def submit_request(body: JobSubmit) -> SubmitRequest:
    return SubmitRequest(
        argv=tuple(body.argv), walltime_s=body.walltime, num_gpus=body.num_gpus, nodes=body.nodes,
        gpu_type=body.gpu_type, name=body.name, env=body.env, cwd=body.cwd, priority_class=body.priority,
        preemptible=body.preemptible, grace_s=body.grace, org=body.org, project=body.project,
        idempotency_key=body.idempotency_key, service_class=body.service_class, reservation=body.reservation,
        array=body.array, dependency=body.dependency)
