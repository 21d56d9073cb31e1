"""Placements as stored in ``jobs.placement``: ``[{"node": name, "gpus": [0, 1]}, ...]``.

Nodes are stored by name (stable across cluster reloads); the core's :class:`Placement` uses node indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpucloud.core.types import Placement
from gpucloud.model.cluster import Cluster


@dataclass(frozen=True, slots=True)
class PlacedNode:
    """The GPUs a job holds on one node (by the node's name)."""

    node: str
    gpus: tuple[int, ...]


def placement_to_json(nodes: Sequence[PlacedNode]) -> list[dict[str, Any]]:
    return [{"node": p.node, "gpus": list(p.gpus)} for p in nodes]


def placement_from_json(data: Any) -> list[PlacedNode]:
    """Parse a stored placement; ``None`` (no placement) gives an empty list."""
    if not data:
        return []
    return [PlacedNode(str(item["node"]), tuple(int(g) for g in item["gpus"])) for item in data]


def placed_nodes(placement: Placement, cluster: Cluster) -> list[PlacedNode]:
    """The core's placement (node indices) as named nodes of ``cluster``."""
    return [PlacedNode(cluster.nodes[n].name, tuple(gpus)) for n, gpus in placement.nodes]


def core_placement(nodes: Sequence[PlacedNode], gpu_type: str, cluster: Cluster) -> Placement:
    """Named nodes back to the core's placement; raises ``KeyError`` for a node the cluster no longer has."""
    indexed = sorted((cluster.node_by_name(p.node).index, tuple(p.gpus)) for p in nodes)
    return Placement(gpu_type, tuple(indexed))
