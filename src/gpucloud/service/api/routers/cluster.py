"""``/api/v1/cluster``: the topology with which job holds each GPU; reload from the cluster file (operator)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gpucloud.service import reservations as res
from gpucloud.service.api.context import Context
from gpucloud.service.api.schemas import (
    BlockOut,
    ClusterOut,
    GpuOut,
    GpuTypeOut,
    NodeOut,
    NodeReservationOut,
    NodeStateIn,
    NodeStateOut,
    RackOut,
    ReloadOut,
)
from gpucloud.service.auth import CurrentPrincipal
from gpucloud.service.jobs import holders
from gpucloud.service.node_ops import stop_jobs_on

router = APIRouter(prefix="/cluster", tags=["cluster"])


@router.get("", response_model=ClusterOut)
def get_cluster(ctx: Context, who: CurrentPrincipal) -> ClusterOut:
    """Every GPU with whether it is held; ``job_id`` is shown only for jobs the caller may see. Each node says
    whether it is down and its current or next reservation (whose org only operators and that org see)."""
    cluster = ctx.cluster
    now = ctx.clock()
    with ctx.sessions() as session:
        held = holders(session)
        states = res.node_states(session)
        reserved: dict[str, NodeReservationOut] = {}
        for b in sorted(res.visible_bookings(session, now), key=lambda b: b.start_at, reverse=True):
            shown = NodeReservationOut(id=b.id, name=b.name, org=b.org.name if who.sees_org(b.org_id) else None,
                                       start=b.start_at, end=b.end_at, active=b.start_at <= now)
            for name in b.node_names or ():
                reserved[str(name)] = shown  # the earliest window wins (rows come latest first)
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
                st = states.get(node.name)
                nodes.append(NodeOut(name=node.name, gpu_type=node.gpu_type, gpus=gpus,
                                     state="down" if st is not None else "up",
                                     state_reason=None if st is None else st.reason,
                                     reservation=reserved.get(node.name)))
            racks.append(RackOut(name=cluster.racks[r].name, nodes=nodes))
        blocks.append(BlockOut(name=block.name, racks=racks))
    types = [GpuTypeOut(name=t.name, memory_gb=t.memory_gb, speed=t.speed, total=cluster.gpus_by_type[t.name],
                        busy=busy_by_type[t.name]) for t in cluster.gpu_types.values()]
    return ClusterOut(name=cluster.name, description=cluster.description, total_gpus=cluster.total_gpus,
                      busy_gpus=sum(busy_by_type.values()), gpu_types=types, blocks=blocks,
                      max_walltime_s=cluster.limits.max_walltime_s)


class GpuTypeInfo(BaseModel):
    name: str
    memory_gb: float
    speed: float
    total: int = Field(description="GPUs of this type in the cluster")
    node_gpus: int = Field(description="GPUs of its largest node")


@router.get("/gpu-types", response_model=list[GpuTypeInfo])
def gpu_types(ctx: Context, who: CurrentPrincipal) -> list[GpuTypeInfo]:
    """The cluster's GPU types, without the whole topology (for forms and filters)."""
    cluster = ctx.cluster
    return [GpuTypeInfo(name=t.name, memory_gb=t.memory_gb, speed=t.speed, total=cluster.gpus_by_type[t.name],
                        node_gpus=cluster.max_node_gpus[t.name]) for t in cluster.gpu_types.values()]


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


@router.put("/nodes/{node}/state", response_model=NodeStateOut)
def set_node_state(node: str, body: NodeStateIn, ctx: Context, who: CurrentPrincipal) -> NodeStateOut:
    """Operator: mark a node ``down`` (no new job starts there; running jobs run on, unless ``stop_jobs`` asks to
    cancel them) or ``up`` again."""
    now = ctx.clock()
    with ctx.sessions.begin() as session:
        row = res.set_node_state(session, who, ctx.cluster, node, body.state, body.reason, now)
        stop = body.stop_jobs and body.state == "down"
        stopped = stop_jobs_on(session, who, node, body.reason, now) if stop else []
    ctx.notify()
    return NodeStateOut(node=node, state=body.state, reason="" if row is None else row.reason, stopped_jobs=stopped)
