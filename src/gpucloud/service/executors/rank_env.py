"""The environment of one rank: the job's own plus its GPUs and its place in the gang.

Besides gpucloud's own variables, every rank gets the torch.distributed ones for one process per node
(``MASTER_ADDR``/``MASTER_PORT`` of rank 0's host, ``RANK`` = ``NODE_RANK`` = the node's rank, ``WORLD_SIZE`` = the
number of nodes, ``LOCAL_RANK`` 0) and torchrun's defaults (``PET_NNODES``, ``PET_NODE_RANK``,
``PET_NPROC_PER_NODE`` = the rank's GPUs, ``PET_MASTER_ADDR``, ``PET_MASTER_PORT``), so ``torchrun train.py`` and
programs that call ``init_process_group("env://")`` run unchanged.
"""

from __future__ import annotations

import socket

from gpucloud.service.executors.base import LaunchError, LaunchSpec, NodeGpus


def rank_env(spec: LaunchSpec, node: NodeGpus, master_addr: str, master_port: int | None) -> dict[str, str]:
    """``master_port`` None: left empty, for the rank's host to fill in (a job of one rank)."""
    env = dict(spec.env)
    world = len(spec.placement)
    env.update({
        "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in node.gpus),
        "GPUCLOUD_JOB_ID": spec.job_id,
        "GPUCLOUD_NODE_RANK": str(node.rank),
        "GPUCLOUD_WORLD_SIZE": str(world),
        "GPUCLOUD_NODE": node.node,
        "GPUCLOUD_NODES": ",".join(n.node for n in sorted(spec.placement, key=lambda n: n.rank)),
        "MASTER_ADDR": master_addr,
        "MASTER_PORT": "" if master_port is None else str(master_port),
        "RANK": str(node.rank),
        "NODE_RANK": str(node.rank),
        "WORLD_SIZE": str(world),
        "LOCAL_RANK": "0",
        "PET_NNODES": str(world),
        "PET_NODE_RANK": str(node.rank),
        "PET_NPROC_PER_NODE": str(max(1, len(node.gpus))),
        "PET_MASTER_ADDR": master_addr,
        "PET_MASTER_PORT": "" if master_port is None else str(master_port),
    })
    return env


def free_port(host: str = "") -> int:
    """A TCP port nobody listens on right now (the kernel's choice), for rank 0's rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def check_ranks(spec: LaunchSpec) -> list[NodeGpus]:
    """The placement in rank order; :class:`LaunchError` unless the ranks are 0..n-1."""
    nodes = sorted(spec.placement, key=lambda n: n.rank)
    if not nodes:
        raise LaunchError(f"job {spec.job_id}: empty placement, nothing to run")
    if [n.rank for n in nodes] != list(range(len(nodes))):
        raise LaunchError(f"job {spec.job_id}: ranks must be 0..{len(nodes) - 1}, got {[n.rank for n in nodes]}")
    return nodes
