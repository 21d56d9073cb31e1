"""Shape feasibility: the (GPU type, gang shape) pairs a job can ever use on a cluster — the one rule, used by
the scheduler when a job is queued and by the service to refuse a submission that can never run.

A job may use a GPU type when its shape on that type's largest nodes (:meth:`JobSpec.shape`) exists and the
cluster has enough nodes with that many GPUs. A job that names no type may use every type with GPUs, in the
cluster's order. None left: :class:`InputError` naming the field — the error of the type with the largest
nodes, the one most likely to fit.
"""

from __future__ import annotations

from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec, Shape

#: per GPU type, per GPU count p: how many nodes have at least p GPUs
NodesAtLeast = dict[str, list[int]]


def nodes_at_least(cluster: Cluster) -> NodesAtLeast:
    out: NodesAtLeast = {}
    for t, m in cluster.max_node_gpus.items():
        counts = [0] * (m + 1)
        for n in cluster.nodes:
            if n.gpu_type == t:
                counts[n.gpus] += 1
        for p in range(m - 1, -1, -1):
            counts[p] += counts[p + 1]
        out[t] = counts
    return out


def job_shapes(cluster: Cluster, spec: JobSpec, at_least: NodesAtLeast | None = None) -> list[tuple[str, Shape]]:
    """The (GPU type, shape) pairs ``spec`` can ever use on ``cluster`` (see the module); ``at_least`` is
    :func:`nodes_at_least` of the cluster when the caller keeps it."""
    if at_least is None:
        at_least = nodes_at_least(cluster)
    if spec.gpu_type is not None:
        if spec.gpu_type not in cluster.gpu_types:
            raise InputError("gpu_type", "unknown GPU type for this cluster", spec.gpu_type)
        if cluster.max_node_gpus.get(spec.gpu_type, 0) < 1:
            raise InputError("gpu_type", "the cluster has no nodes of this GPU type", spec.gpu_type)
        types = [spec.gpu_type]
    else:
        types = [t for t, n in cluster.max_node_gpus.items() if n > 0]
    out: list[tuple[str, Shape]] = []
    errors: list[tuple[int, InputError]] = []
    for t in types:
        largest = cluster.max_node_gpus[t]
        try:
            shape = spec.shape(largest)
        except InputError as exc:
            errors.append((largest, exc))
            continue
        fitting = at_least[t][shape.per_node]
        if shape.nodes > fitting:
            field = "nodes" if spec.nodes is not None else "num_gpus"
            errors.append((largest, InputError(
                field, f"needs {shape.nodes} nodes × {shape.per_node} GPUs but the cluster has only {fitting} "
                f"such {t} nodes", spec.nodes if spec.nodes is not None else spec.num_gpus)))
            continue
        out.append((t, shape))
    if not out:
        if errors:
            raise max(errors, key=lambda e: e[0])[1]  # the first of those with the largest nodes
        raise InputError("gpu_type", "the cluster has no GPUs", spec.gpu_type)
    return out
