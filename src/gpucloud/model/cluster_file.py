"""Cluster files (YAML) and inline cluster specs (``80x8`` or ``80x8:H100``), validated with clear errors.

File format::

    name: my-cluster
    description: what real system this is shaped after
    gpu_types:                       # optional for the known types below
      H100-80GB: {memory_gb: 80, speed: 1.0}
    blocks:
      - name: su                     # a name prefix; with count > 1 an index is appended: su0, su1, ...
        count: 4
        racks:
          - name: r
            count: 8
            nodes:
              - {name: n, count: 4, gpus: 8, gpu_type: H100-80GB}

Node names join the three levels: ``su1-r3-n0``. Errors name the field path, e.g.
``blocks[0].racks[1].nodes[0].gpus: Input should be greater than 0 (got -1)``.

What a job may ask for (optional; durations as seconds or ``90s``, ``30m``, ``1h30m``, ``7d``)::

    limits:
      max_walltime: 7d               # default 30d, at most 3650d
      max_grace: 5m                  # the checkpoint grace between SIGTERM and SIGKILL; default 5m, at most 1d
      max_walltime_by_priority: {urgent: 1d}                       # instead of max_walltime for that class
      max_walltime_by_service_class: {interactive: 8h, preemptible: 30d}

A job of a priority class or service class listed there may run that long (longer or shorter than
``max_walltime``); when both of its classes are listed, the shorter holds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from gpucloud.durations import parse_duration
from gpucloud.errors import InputError, UnknownNameError
from gpucloud.model.cluster import Block, Cluster, GpuType, Node, Rack
from gpucloud.model.limits import DEFAULT_MAX_GRACE_S, DEFAULT_MAX_WALLTIME_S, SERVICE_CLASSES, RunLimits
from gpucloud.model.priority import PRIORITY_CLASSES
from gpucloud.model.validation import read_yaml, validate_document

#: GPU types every cluster knows without declaring them (speed relative to an H100).
KNOWN_GPU_TYPES: dict[str, GpuType] = {
    t.name: t
    for t in (
        GpuType("H100-80GB", 80, 1.0),
        GpuType("H200-141GB", 141, 1.3),
        GpuType("B200-180GB", 180, 2.2),
        GpuType("GB200-186GB", 186, 2.5),
        GpuType("A100-80GB", 80, 0.45),
        GpuType("V100-32GB", 32, 0.15),
    )
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GpuTypeSpec(_Strict):
    memory_gb: float = Field(gt=0)
    speed: float = Field(default=1.0, gt=0)


class NodeGroupSpec(_Strict):
    name: str = Field(default="n", min_length=1, pattern=r"^[A-Za-z0-9_.]+$")
    count: int = Field(default=1, ge=1, le=100_000)
    gpus: int = Field(gt=0, le=1024)
    gpu_type: str = Field(min_length=1)


class RackSpec(_Strict):
    name: str = Field(default="r", min_length=1, pattern=r"^[A-Za-z0-9_.]+$")
    count: int = Field(default=1, ge=1, le=100_000)
    nodes: list[NodeGroupSpec] = Field(min_length=1)


class BlockSpec(_Strict):
    name: str = Field(default="b", min_length=1, pattern=r"^[A-Za-z0-9_.]+$")
    count: int = Field(default=1, ge=1, le=10_000)
    racks: list[RackSpec] = Field(min_length=1)


#: A walltime limit in a cluster file: seconds or ``"1h30m"``-style, more than zero and at most 10 years.
Walltime = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=3650 * 86400)]
#: A grace limit: at most a day.
Grace = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=86400)]


def _known(names: dict[str, float], kind: str, known: list[str]) -> dict[str, float]:
    for name in names:
        if name not in known:
            raise ValueError(UnknownNameError(kind, name, known).message)
    return names


class LimitsSpec(_Strict):
    max_walltime: Walltime = DEFAULT_MAX_WALLTIME_S
    max_grace: Grace = DEFAULT_MAX_GRACE_S
    max_walltime_by_priority: dict[str, Walltime] = Field(default_factory=dict)
    max_walltime_by_service_class: dict[str, Walltime] = Field(default_factory=dict)

    @field_validator("max_walltime_by_priority")
    @classmethod
    def _priorities(cls, v: dict[str, float]) -> dict[str, float]:
        return _known(v, "priority class", list(PRIORITY_CLASSES))

    @field_validator("max_walltime_by_service_class")
    @classmethod
    def _service_classes(cls, v: dict[str, float]) -> dict[str, float]:
        return _known(v, "service class", list(SERVICE_CLASSES))

    def limits(self) -> RunLimits:
        return RunLimits(self.max_walltime, self.max_grace, dict(self.max_walltime_by_priority),
                         dict(self.max_walltime_by_service_class))


class ClusterSpec(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    gpu_types: dict[str, GpuTypeSpec] = Field(default_factory=dict)
    blocks: list[BlockSpec] = Field(min_length=1)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)


def _names(prefix: str, count: int) -> list[str]:
    if count == 1:
        return [prefix]
    width = len(str(count - 1))
    return [f"{prefix}{i:0{width}d}" for i in range(count)]


#: The most nodes a cluster may expand to (a guard against a typo like ``count: 1000000`` at every level).
MAX_NODES = 1_000_000


def build_cluster(spec: ClusterSpec, where: str = "cluster") -> Cluster:
    """Expand a validated spec into a :class:`Cluster`.

    Raises :class:`InputError` on unknown GPU types, on too many nodes, and when two blocks, two racks or two
    nodes would get the same name.
    """
    types = dict(KNOWN_GPU_TYPES)
    types.update({k: GpuType(k, v.memory_gb, v.speed) for k, v in spec.gpu_types.items()})
    total = sum(b.count * sum(r.count * sum(n.count for n in r.nodes) for r in b.racks) for b in spec.blocks)
    if total > MAX_NODES:
        raise InputError("blocks", f"expands to more than {MAX_NODES:,} nodes", total, where=where)
    blocks: list[Block] = []
    racks: list[Rack] = []
    nodes: list[Node] = []
    seen: set[str] = set()  # one set serves all levels: names have 0 (block), 1 (rack) or 2 (node) dashes

    def unique(name: str, field: str) -> str:
        if name in seen:
            raise InputError(field, "names must be unique; use distinct name prefixes", name, where=where)
        seen.add(name)
        return name

    for bi, bspec in enumerate(spec.blocks):
        for bname in _names(bspec.name, bspec.count):
            block = Block(len(blocks), unique(bname, f"blocks[{bi}].name"))
            blocks.append(block)
            for ri, rspec in enumerate(bspec.racks):
                for rname in _names(rspec.name, rspec.count):
                    rack_name = unique(f"{bname}-{rname}", f"blocks[{bi}].racks[{ri}].name")
                    rack = Rack(len(racks), rack_name, block.index)
                    racks.append(rack)
                    for ni, nspec in enumerate(rspec.nodes):
                        if nspec.gpu_type not in types:
                            field = f"blocks[{bi}].racks[{ri}].nodes[{ni}].gpu_type"
                            hint = UnknownNameError("GPU type", nspec.gpu_type, list(types)).message
                            raise InputError(field, hint.split(" (known")[0], where=where)
                        node_field = f"blocks[{bi}].racks[{ri}].nodes[{ni}].name"
                        for nname in _names(nspec.name, nspec.count):
                            node_name = unique(f"{rack.name}-{nname}", node_field)
                            nodes.append(
                                Node(len(nodes), node_name, nspec.gpu_type, nspec.gpus, rack.index,
                                     block.index)
                            )
    used = {n.gpu_type for n in nodes}
    gpu_types = {k: v for k, v in types.items() if k in used or k in spec.gpu_types}
    return Cluster(spec.name, gpu_types, tuple(blocks), tuple(racks), tuple(nodes), spec.description,
                   spec.limits.limits())


def cluster_from_dict(data: Any, where: str = "cluster") -> Cluster:
    spec = validate_document(ClusterSpec, data, "cluster", "a mapping with name and blocks", where)
    return build_cluster(spec, where)


def load_cluster(path: str | Path) -> Cluster:
    """Load a cluster file, or an inline spec like ``80x8:H100`` when ``path`` looks like one."""
    text = str(path)
    if INLINE_RE.match(text):
        return parse_inline(text)
    data = read_yaml(path, "cluster")
    return cluster_from_dict(data, where=str(path))


INLINE_RE = re.compile(r"^(\d+)x(\d+)(?::([A-Za-z0-9_.-]+))?$")

#: Inline clusters group nodes into racks of this many nodes, and racks into blocks of this many racks.
INLINE_RACK_NODES = 4
INLINE_BLOCK_RACKS = 8


def resolve_gpu_type(name: str, known: dict[str, GpuType] | None = None) -> str:
    """Accept a full GPU type name or its unique prefix (``H100`` → ``H100-80GB``)."""
    known = KNOWN_GPU_TYPES if known is None else known
    if name in known:
        return name
    matches = [k for k in known if k.split("-")[0].lower() == name.lower()]
    if len(matches) == 1:
        return matches[0]
    raise UnknownNameError("GPU type", name, list(known))


def parse_inline(text: str) -> Cluster:
    """``NxG[:TYPE]``: N nodes of G GPUs (default type H100-80GB), in racks of 4 nodes, blocks of 8 racks."""
    m = INLINE_RE.match(text)
    if not m:
        raise InputError("cluster", "inline cluster must look like 80x8 or 80x8:H100", text)
    count, gpus = int(m.group(1)), int(m.group(2))
    if count < 1 or gpus < 1:
        raise InputError("cluster", "node count and GPUs per node must be at least 1", text)
    if count > MAX_NODES or gpus > 1024:
        raise InputError("cluster", f"at most {MAX_NODES:,} nodes of at most 1024 GPUs", text)
    try:
        gpu_type = resolve_gpu_type(m.group(3) or "H100-80GB")
    except UnknownNameError as exc:
        raise InputError("cluster", exc.message.split(" (known")[0], text) from None
    t = KNOWN_GPU_TYPES[gpu_type]
    blocks: list[Block] = []
    racks: list[Rack] = []
    nodes: list[Node] = []
    for i in range(count):
        if i % (INLINE_RACK_NODES * INLINE_BLOCK_RACKS) == 0:
            blocks.append(Block(len(blocks), f"b{len(blocks)}"))
        if i % INLINE_RACK_NODES == 0:
            racks.append(Rack(len(racks), f"b{len(blocks) - 1}-r{len(racks)}", len(blocks) - 1))
        nodes.append(Node(i, f"{racks[-1].name}-n{i}", gpu_type, gpus, len(racks) - 1, len(blocks) - 1))
    description = f"{count} nodes of {gpus} {gpu_type}"
    return Cluster(text, {gpu_type: t}, tuple(blocks), tuple(racks), tuple(nodes), description)
