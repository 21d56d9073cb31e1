"""The cluster topology: cluster → block → rack (NVLink domain) → node → GPU, with GPU types.

Everything here is immutable and indexed densely (``Node.index``, ``Rack.index``, ``Block.index``) so the
scheduling core can keep its free-capacity index in flat lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from gpucloud.model.limits import RunLimits


@dataclass(frozen=True, slots=True)
class GpuType:
    """A GPU model: its name (e.g. ``H100-80GB``), memory and speed relative to the trace's reference GPU."""

    name: str
    memory_gb: float
    speed: float = 1.0


@dataclass(frozen=True, slots=True)
class Block:
    """A network scalable unit / leaf group."""

    index: int
    name: str


@dataclass(frozen=True, slots=True)
class Rack:
    """An NVLink domain: e.g. a GB200 NVL72 rack, or a rack of HGX servers."""

    index: int
    name: str
    block: int


@dataclass(frozen=True, slots=True)
class Node:
    """One server with ``gpus`` GPUs of one type, numbered ``0 .. gpus-1``."""

    index: int
    name: str
    gpu_type: str
    gpus: int
    rack: int
    block: int


@dataclass(frozen=True)
class Cluster:
    """A whole cluster. Build it with :func:`gpucloud.model.cluster_file.load_cluster` or ``parse_inline``."""

    name: str
    gpu_types: dict[str, GpuType]
    blocks: tuple[Block, ...]
    racks: tuple[Rack, ...]
    nodes: tuple[Node, ...]
    description: str = ""
    #: the longest walltime and checkpoint grace a job may ask for (the cluster file's ``limits:``)
    limits: RunLimits = field(default_factory=RunLimits)
    _by_name: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({n.name: n.index for n in self.nodes})

    @cached_property
    def total_gpus(self) -> int:
        return sum(n.gpus for n in self.nodes)

    @cached_property
    def gpus_by_type(self) -> dict[str, int]:
        out: dict[str, int] = {t: 0 for t in self.gpu_types}
        for n in self.nodes:
            out[n.gpu_type] += n.gpus
        return out

    @cached_property
    def max_node_gpus(self) -> dict[str, int]:
        """The largest node size of each GPU type (0 for a type with no nodes)."""
        out: dict[str, int] = {t: 0 for t in self.gpu_types}
        for n in self.nodes:
            out[n.gpu_type] = max(out[n.gpu_type], n.gpus)
        return out

    @cached_property
    def nodes_by_rack(self) -> tuple[tuple[int, ...], ...]:
        lists: list[list[int]] = [[] for _ in self.racks]
        for n in self.nodes:
            lists[n.rack].append(n.index)
        return tuple(tuple(x) for x in lists)

    @cached_property
    def racks_by_block(self) -> tuple[tuple[int, ...], ...]:
        lists: list[list[int]] = [[] for _ in self.blocks]
        for r in self.racks:
            lists[r.block].append(r.index)
        return tuple(tuple(x) for x in lists)

    def node_by_name(self, name: str) -> Node:
        return self.nodes[self._by_name[name]]

    def index_of(self, name: str) -> int | None:
        """The index of the node named ``name``, or None when the cluster has no such node."""
        return self._by_name.get(name)

    def gpu_label(self, node: int, gpu: int) -> str:
        """The ``node/gpu`` id used in outputs (e.g. ``su1-r03-n2/5``)."""
        return f"{self.nodes[node].name}/{gpu}"
