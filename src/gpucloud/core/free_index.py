"""The free-capacity index: which GPUs of which node are free, bucketed by free count per GPU type.

Finding a node with at least ``g`` free GPUs is a walk over at most ``max_node_gpus`` buckets, not a scan of
all nodes; inside a bucket the lowest-numbered node is taken (each bucket keeps a heap of its nodes), so a
placement depends only on which GPUs are free — not on the order in which they were taken and given back —
and a scheduler rebuilt from the database places jobs as one that lived through the history. Within one
scheduling cycle the index also remembers the smallest single-node size and gang size
that failed, so the thousands of queued jobs behind a full cluster are refused in O(1) each; any release of
GPUs clears that memory.
"""

from __future__ import annotations

from heapq import heappop, heappush

from gpucloud.core.fit_memory import FitMemory
from gpucloud.model.cluster import Cluster


def low_bits(mask: int, k: int) -> int:
    """The lowest ``k`` set bits of ``mask``."""
    out = 0
    for _ in range(k):
        bit = mask & -mask
        out |= bit
        mask ^= bit
    return out


def bit_indices(mask: int) -> tuple[int, ...]:
    out = []
    i = 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return tuple(out)


def to_mask(gpus: tuple[int, ...]) -> int:
    """The bitmask of GPU indices ``gpus``."""
    m = 0
    for g in gpus:
        m |= 1 << g
    return m


class FreeIndex:
    """Free GPUs per node (a bitmask) and, per GPU type, nodes bucketed by their free count."""

    __slots__ = ("buckets", "caching", "cluster", "free", "heaps", "mask", "memory", "type_free", "version")

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.free: list[int] = [n.gpus for n in cluster.nodes]
        self.mask: list[int] = [(1 << n.gpus) - 1 for n in cluster.nodes]
        self.buckets: dict[str, list[dict[int, None]]] = {
            t: [{} for _ in range(m + 1)] for t, m in cluster.max_node_gpus.items()
        }
        #: per type and free count, a heap of the bucket's nodes (entries of nodes that left are dropped lazily)
        self.heaps: dict[str, list[list[int]]] = {t: [[] for _ in b] for t, b in self.buckets.items()}
        self.type_free: dict[str, int] = dict.fromkeys(cluster.gpu_types, 0)
        for n in cluster.nodes:
            self.buckets[n.gpu_type][n.gpus][n.index] = None
            self.type_free[n.gpu_type] += n.gpus
        for t, buckets in self.buckets.items():
            self.heaps[t] = [sorted(b) for b in buckets]
        self.caching = True
        self.memory = FitMemory()
        #: counts every change of the free GPUs: what was computed from the index holds while it is unchanged
        self.version = 0

    def copy(self) -> FreeIndex:
        new = FreeIndex.__new__(FreeIndex)
        new.cluster = self.cluster
        new.free = self.free.copy()
        new.mask = self.mask.copy()
        new.buckets = {t: [b.copy() for b in bs] for t, bs in self.buckets.items()}
        new.heaps = {t: [h.copy() for h in hs] for t, hs in self.heaps.items()}
        new.type_free = self.type_free.copy()
        new.caching = True
        new.memory = FitMemory()
        new.version = 0
        return new

    @classmethod
    def only(cls, cluster: Cluster, masks: dict[int, int]) -> FreeIndex:
        """An index of ``cluster`` in which only the GPUs in ``masks`` (node → free bitmask) are free."""
        new = cls.__new__(cls)
        new.cluster = cluster
        n = len(cluster.nodes)
        new.free = [0] * n
        new.mask = [0] * n
        new.buckets = {t: [{} for _ in range(m + 1)] for t, m in cluster.max_node_gpus.items()}
        new.heaps = {t: [[] for _ in range(m + 1)] for t, m in cluster.max_node_gpus.items()}
        new.type_free = dict.fromkeys(cluster.gpu_types, 0)
        new.caching = True
        new.memory = FitMemory()
        new.version = 0
        for node, mask in masks.items():
            if mask:
                new._set(node, mask)
        return new

    @property
    def total_free(self) -> int:
        return sum(self.type_free.values())

    def _set(self, node: int, mask: int) -> None:
        self.version += 1
        t = self.cluster.nodes[node].gpu_type
        old = self.free[node]
        new = mask.bit_count()
        if old != new:
            buckets = self.buckets[t]
            if old:
                del buckets[old][node]
            if new:
                bucket = buckets[new]
                bucket[node] = None
                heap = self.heaps[t][new]
                if len(heap) > 2 * len(bucket) + 8:  # mostly entries of nodes that left: rebuild it
                    heap[:] = sorted(bucket)
                else:
                    heappush(heap, node)
            self.type_free[t] += new - old
            self.free[node] = new
        self.mask[node] = mask

    def take(self, node: int, mask: int) -> None:
        """Mark the GPUs in ``mask`` on ``node`` as used; they must be free."""
        cur = self.mask[node]
        if cur & mask != mask:
            raise ValueError(f"GPUs {bit_indices(mask & ~cur)} of node {node} are not free")
        self._set(node, cur & ~mask)

    def give(self, node: int, mask: int) -> None:
        """Return the GPUs in ``mask`` on ``node``; they must be in use. Clears the failure memory."""
        cur = self.mask[node]
        if cur & mask:
            raise ValueError(f"GPUs {bit_indices(cur & mask)} of node {node} are already free")
        self._set(node, cur | mask)
        self.memory.clear()

    def first(self, gpu_type: str, free: int) -> int | None:
        """The lowest-numbered node of ``gpu_type`` with exactly ``free`` free GPUs, or None."""
        bucket = self.buckets[gpu_type][free]
        if not bucket:
            return None
        heap = self.heaps[gpu_type][free]
        while heap[0] not in bucket:
            heappop(heap)
        return heap[0]

    def new_cycle(self) -> None:
        self.memory.clear()

    def exhausted(self) -> bool:
        """True when not even one GPU can be placed (every type is full or refused a 1-GPU job)."""
        single = self.memory.single
        return all(free == 0 or single.get(t) == 1 for t, free in self.type_free.items())

    def nodes_with(self, gpu_type: str, per_node: int) -> int:
        """How many nodes of ``gpu_type`` have at least ``per_node`` free GPUs."""
        buckets = self.buckets[gpu_type]
        return sum(len(buckets[f]) for f in range(per_node, len(buckets)))

    def known_unfit(self, gpu_type: str, nodes: int, per_node: int) -> bool:
        return self.memory.known(gpu_type, nodes, per_node)

    def remember_unfit(self, gpu_type: str, nodes: int, per_node: int) -> None:
        if self.caching:
            self.memory.remember(gpu_type, nodes, per_node)
