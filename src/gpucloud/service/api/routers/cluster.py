"""``/api/v1/cluster``: the topology with which job holds each GPU; reload from the cluster file (operator)."""

from __future__ import annotations

from fastapi import APIRouter

from gpucloud.service.api.context import Context
from gpucloud.service.api.schemas import BlockOut, ClusterOut, GpuOut, GpuTypeOut, NodeOut, RackOut, ReloadOut
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.jobs import holders

router = APIRouter(prefix="/cluster", tags=["cluster"])


@router.get("", response_model=ClusterOut)
def get_cluster(ctx: Context, who: CurrentPrincipal) -> ClusterOut:
    """Every GPU with whether it is held; ``job_id`` is shown only for jobs the caller may see."""
    cluster = ctx.cluster
    with ctx.sessions() as session:
        held = holders(session)
    by_gpu: dict[tuple[str, int], int | None] = {}
    for h in held:
        visible = who.is_operator or h.user_id == who.user_id or (who.is_org_admin and h.org_id == who.org_id)
        for g in h.gpus:
            by_gpu[(h.node, g)] = h.job_id if visible else None
    busy_by_type = dict.fromkeys(cluster.gpu_types, 0)
    blocks: list[BlockOut] = []
    for block, rack_ids in zip(cluster.blocks, cluster.racks_by_block, strict=True):
        racks: list[RackOut] = []
        for r in rack_ids:
            nodes: list[NodeOut] = []
            for n in cluster.nodes_by_rack[r]:
                node = cluster.nodes[n]
                gpus = [GpuOut(index=g, busy=(node.name, g) in by_gpu, job_id=by_gpu.get((node.name, g)))
                        for g in range(node.gpus)]
                busy_by_type[node.gpu_type] += sum(1 for g in gpus if g.busy)
                nodes.append(NodeOut(name=node.name, gpu_type=node.gpu_type, gpus=gpus))
            racks.append(RackOut(name=cluster.racks[r].name, nodes=nodes))
        blocks.append(BlockOut(name=block.name, racks=racks))
    types = [GpuTypeOut(name=t.name, memory_gb=t.memory_gb, speed=t.speed, total=cluster.gpus_by_type[t.name],
                        busy=busy_by_type[t.name]) for t in cluster.gpu_types.values()]
    return ClusterOut(name=cluster.name, description=cluster.description, total_gpus=cluster.total_gpus,
                      busy_gpus=sum(busy_by_type.values()), gpu_types=types, blocks=blocks)


@router.post("/reload", response_model=ReloadOut)
def reload_cluster(ctx: Context, who: CurrentPrincipal) -> ReloadOut:
    """Operator: load the cluster file again (an invalid file is a 422 and the old cluster stays)."""
    who.require_operator()
    cluster = ctx.reload_cluster()
    with ctx.sessions() as session:
        held = holders(session)
    names = {n.name for n in cluster.nodes}
    lost = sorted({h.node for h in held if h.node not in names})
    warnings = [f"jobs hold GPUs on nodes no longer in the cluster: {', '.join(lost)}"] if lost else []
    return ReloadOut(name=cluster.name, total_gpus=cluster.total_gpus, nodes=len(cluster.nodes), warnings=warnings)
