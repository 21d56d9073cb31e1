"""A cluster file from a running Ray cluster (``gpucloud cluster from-ray``): one gpucloud node per Ray node with
GPUs, its GPU count and accelerator type, and its rack and block from node labels when present.

- The node's name is its ``gpucloud-node`` label when it has one in the ``block-rack-node`` form the cluster file
  builds (the Ray executor maps cluster nodes to Ray nodes by that label); otherwise it is built from the labels
  ``gpucloud-block`` (default ``ray``) and ``gpucloud-rack`` (default: one rack per host, ``h<i>``), and the host
  must be labelled with that name before the Ray executor can use it (a warning says so).
- The GPU type comes from Ray's ``accelerator_type:<X>`` resource (``H100`` is ``H100-80GB``); a type gpucloud
  does not know is declared in ``gpu_types`` with its memory and speed left for the operator to fill in.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import yaml

from gpucloud.errors import UnknownNameError
from gpucloud.model.cluster_file import KNOWN_GPU_TYPES, cluster_from_dict, resolve_gpu_type
from gpucloud.service.executors.ray_executor import LABEL

_PART = re.compile(r"[^A-Za-z0-9_.]+")
ACCELERATOR_PREFIX = "accelerator_type:"


@dataclass
class Discovered:
    """The cluster file (as YAML text) and what the operator must still do."""

    text: str
    nodes: int
    gpus: int
    warnings: list[str] = field(default_factory=list)


def _part(text: str) -> str:
    return _PART.sub("_", text).strip("_") or "x"


def _gpu_type(resources: dict[str, Any], default: str, unknown: set[str]) -> str:
    kinds = [k[len(ACCELERATOR_PREFIX):] for k in resources if k.startswith(ACCELERATOR_PREFIX)]
    if not kinds:
        return default
    try:
        return resolve_gpu_type(kinds[0])
    except UnknownNameError:
        unknown.add(_part(kinds[0]))
        return _part(kinds[0])


def cluster_from_nodes(nodes: list[dict[str, Any]], name: str = "ray", default_type: str = "H100-80GB") -> Discovered:
    """The cluster file for the alive nodes of ``ray.nodes()`` that have GPUs."""
    layout: defaultdict[str, defaultdict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    warnings: list[str] = []
    unknown: set[str] = set()
    gpus = 0
    hosts = sorted((n for n in nodes if n.get("Alive") and int((n.get("Resources") or {}).get("GPU", 0)) > 0),
                   key=lambda n: (str((n.get("Labels") or {}).get(LABEL, "")), str(n.get("NodeManagerAddress"))))
    for i, node in enumerate(hosts):
        labels = node.get("Labels") or {}
        count = int(node["Resources"]["GPU"])
        gpus += count
        entry = {"name": "n", "gpus": count, "gpu_type": _gpu_type(node["Resources"], default_type, unknown)}
        parts = str(labels.get(LABEL, "")).split("-")
        if len(parts) == 3 and all(_part(p) == p for p in parts):
            block, rack, entry["name"] = parts
        else:
            block = _part(str(labels.get("gpucloud-block", "ray")))
            rack = _part(str(labels.get("gpucloud-rack", f"h{i}")))
            warnings.append(f"Ray node {str(node['NodeID'])[:12]} ({node.get('NodeManagerAddress')}) has no "
                            f"{LABEL} label of the form block-rack-node: start it with "
                            f"--labels '{{\"{LABEL}\": \"{block}-{rack}-n\"}}' for the Ray executor to use it")
        layout[block][rack].append(entry)
    document: dict[str, Any] = {
        "name": name, "description": f"discovered from a Ray cluster: {len(hosts)} nodes with GPUs",
        "blocks": [{"name": b, "racks": [{"name": r, "nodes": ns} for r, ns in sorted(racks.items())]}
                   for b, racks in sorted(layout.items())],
    }
    if unknown:
        document["gpu_types"] = {t: {"memory_gb": 80, "speed": 1.0} for t in sorted(unknown)}
        warnings.append(f"GPU types gpucloud does not know: {', '.join(sorted(unknown))} (known: "
                        f"{', '.join(KNOWN_GPU_TYPES)}); set their memory_gb and speed in gpu_types")
    if not hosts:
        warnings.append("no alive Ray node has GPUs (start nodes with --num-gpus)")
    text = yaml.safe_dump(document, sort_keys=False)
    if hosts:
        cluster_from_dict(yaml.safe_load(text), "from-ray")  # what we write loads as a cluster
    return Discovered(text, len(hosts), gpus, warnings)


def cluster_from_ray(address: str, name: str = "ray", default_type: str = "H100-80GB") -> Discovered:
    """Connect to the Ray cluster at ``address`` and describe it (see :func:`cluster_from_nodes`)."""
    import ray

    ray_any: Any = ray
    if not ray_any.is_initialized():
        ray_any.init(address=address, log_to_driver=False, logging_level="ERROR")
    return cluster_from_nodes(ray_any.nodes(), name, default_type)
