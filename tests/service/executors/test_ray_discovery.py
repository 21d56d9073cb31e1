"""A cluster file from Ray's node list (``gpucloud cluster from-ray``): names from labels, GPU counts and types,
and what the operator must still do; the file written loads as a cluster."""

from __future__ import annotations

from typing import Any

import yaml

from gpucloud.model.cluster_file import cluster_from_dict
from gpucloud.service.executors.ray_discovery import cluster_from_nodes


def node(i: int, gpus: int, labels: dict[str, str], accelerator: str | None = "H100", alive: bool = True) -> Any:
    resources: dict[str, float] = {"CPU": 8.0, "GPU": float(gpus)}
    if accelerator:
        resources[f"accelerator_type:{accelerator}"] = 1.0
    return {"NodeID": f"{i:056x}", "Alive": alive, "NodeManagerAddress": f"10.0.0.{i}", "Labels": labels,
            "Resources": resources}


def test_labelled_nodes_keep_their_names_and_others_are_placed_and_warned_about() -> None:
    nodes = [node(1, 8, {"gpucloud-node": "su0-r1-n0"}), node(2, 8, {"gpucloud-node": "su0-r1-n1"}, "H200"),
             node(3, 4, {"gpucloud-rack": "spare"}, None), node(4, 0, {}), node(5, 8, {}, alive=False),
             node(6, 2, {"gpucloud-node": "odd name"}, "L40S")]
    found = cluster_from_nodes(nodes, name="lab")
    cluster = cluster_from_dict(yaml.safe_load(found.text))
    assert sorted((n.name, n.gpus, n.gpu_type) for n in cluster.nodes) == [
        ("ray-h1-n", 2, "L40S"), ("ray-spare-n", 4, "H100-80GB"), ("su0-r1-n0", 8, "H100-80GB"),
        ("su0-r1-n1", 8, "H200-141GB")]
    assert (found.nodes, found.gpus, cluster.name) == (4, 22, "lab")
    assert len(found.warnings) == 3  # two unlabelled hosts, one unknown GPU type
    assert any("L40S" in w and "memory_gb" in w for w in found.warnings)
    assert any("--labels" in w and "ray-spare-n" in w for w in found.warnings)


def test_a_cluster_without_gpus_says_so() -> None:
    found = cluster_from_nodes([node(1, 0, {})])
    assert found.nodes == 0 and any("no alive Ray node has GPUs" in w for w in found.warnings)
