"""The free-capacity index: which GPUs of which node are free, bucketed by free count per GPU type.

Finding a node with at least ``g`` free GPUs is a walk over at most ``max_node_gpus`` buckets, not a scan of
all nodes. Within one scheduling cycle the index also remembers the smallest single-node size and gang size
that failed, so the thousands of queued jobs behind a full cluster are refused in O(1) each; any release of
GPUs clears that memory.
"""

from __future__ import annotations

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
    m = 0
    for g in gpus:
        m |= 1 << g
    return m


class FreeIndex:
    """Free GPUs per node (a bitmask) and, per GPU type, nodes bucketed by their free count."""

    __slots__ = ("_fail_gang", "_fail_single", "buckets", "caching", "cluster", "free", "mask", "type_free")

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.free: list[int] = [n.gpus for n in cluster.nodes]
        self.mask: list[int] = [(1 << n.gpus) - 1 for n in cluster.nodes]
        self.buckets: dict[str, list[dict[int, None]]] = {
            t: [{} for _ in range(m + 1)] for t, m in cluster.max_node_gpus.items()
        }
        self.type_free: dict[str, int] = dict.fromkeys(cluster.gpu_types, 0)
        for n in cluster.nodes:
            self.buckets[n.gpu_type][n.gpus][n.index] = None
            self.type_free[n.gpu_type] += n.gpus
        self.caching = True
        self._fail_single: dict[str, int] = {}
        self._fail_gang: dict[tuple[str, int], int] = {}

    def copy(self) -> FreeIndex:
        new = FreeIndex.__new__(FreeIndex)
        new.cluster = self.cluster
        new.free = self.free.copy()
        new.mask = self.mask.copy()
        new.buckets = {t: [b.copy() for b in bs] for t, bs in self.buckets.items()}
        new.type_free = self.type_free.copy()
        new.caching = True
        new._fail_single = {}
        new._fail_gang = {}
        return new

    @property
    def total_free(self) -> int:
        return sum(self.type_free.values())

    def _set(self, node: int, mask: int) -> None:
        t = self.cluster.nodes[node].gpu_type
        old = self.free[node]
        new = mask.bit_count()
        if old != new:
            buckets = self.buckets[t]
            if old:
                del buckets[old][node]
            if new:
                buckets[new][node] = None
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
        self._fail_single.clear()
        self._fail_gang.clear()

    def new_cycle(self) -> None:
        self._fail_single.clear()
        self._fail_gang.clear()

    # -- failure memory: within a cycle a failed size means every larger size fails too --------------------
    def known_unfit(self, gpu_type: str, nodes: int, per_node: int) -> bool:
        single = self._fail_single.get(gpu_type)
        if single is not None and per_node >= single:
            return True
        if nodes > 1:
            gang = self._fail_gang.get((gpu_type, per_node))
            return gang is not None and nodes >= gang
        return False

    def remember_unfit(self, gpu_type: str, nodes: int, per_node: int) -> None:
        if not self.caching:
            return
        if nodes == 1:
            cur = self._fail_single.get(gpu_type)
            if cur is None or per_node < cur:
                self._fail_single[gpu_type] = per_node
        else:
            key = (gpu_type, per_node)
            cur = self._fail_gang.get(key)
            if cur is None or nodes < cur:
                self._fail_gang[key] = nodes
