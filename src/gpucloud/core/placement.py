"""Topology-aware placement, shared by every policy.

* A job that fits one node goes to the node with the fewest free GPUs that still fits it (best fit), so
  large holes stay free for large jobs; among equal nodes the lowest-numbered one.
* A gang of N nodes × P GPUs goes inside one rack (NVLink domain) when some rack has N nodes with P free
  (the tightest such rack); otherwise inside one block, spanning the fewest racks (ties: the tightest
  block); otherwise over the fewest blocks. Within the chosen racks, best-fit nodes are taken.
"""

from __future__ import annotations

from gpucloud.core.free_index import FreeIndex, bit_indices, low_bits
from gpucloud.core.types import Placement
from gpucloud.model.job import Shape


def _single(index: FreeIndex, gpu_type: str, g: int) -> Placement | None:
    buckets = index.buckets[gpu_type]
    for f in range(g, len(buckets)):
        if buckets[f]:
            node = index.first(gpu_type, f)
            assert node is not None
            return Placement(gpu_type, ((node, bit_indices(low_bits(index.mask[node], g))),))
    return None


def _eligible_by_rack(index: FreeIndex, gpu_type: str, per_node: int) -> dict[int, list[tuple[int, int]]]:
    nodes = index.cluster.nodes
    by_rack: dict[int, list[tuple[int, int]]] = {}
    buckets = index.buckets[gpu_type]
    for f in range(per_node, len(buckets)):
        for n in buckets[f]:
            by_rack.setdefault(nodes[n].rack, []).append((f, n))
    return by_rack


def _choose_racks(index: FreeIndex, by_rack: dict[int, list[tuple[int, int]]], n: int) -> list[int]:
    """The racks to take nodes from, in the order to take them."""
    one = [r for r, lst in by_rack.items() if len(lst) >= n]
    if one:
        return [min(one, key=lambda r: (len(by_rack[r]), sum(f for f, _ in by_rack[r]), r))]
    racks = index.cluster.racks
    by_block: dict[int, list[int]] = {}
    for r in by_rack:
        by_block.setdefault(racks[r].block, []).append(r)
    best: tuple[int, int, int] | None = None
    best_racks: list[int] = []
    for b, rs in by_block.items():
        total = sum(len(by_rack[r]) for r in rs)
        if total < n:
            continue
        rs.sort(key=lambda r: (-len(by_rack[r]), r))
        got, k = 0, 0
        while got < n:
            got += len(by_rack[rs[k]])
            k += 1
        key = (k, total, b)
        if best is None or key < best:
            best, best_racks = key, rs[:k]
    if best is not None:
        return best_racks
    # Span blocks: the biggest blocks first, then the biggest racks inside each.
    order: list[int] = []
    for _b, rs in sorted(by_block.items(), key=lambda kv: (-sum(len(by_rack[r]) for r in kv[1]), kv[0])):
        order.extend(sorted(rs, key=lambda r: (-len(by_rack[r]), r)))
    return order


def _gang(index: FreeIndex, gpu_type: str, n: int, p: int) -> Placement | None:
    if index.type_free[gpu_type] < n * p or index.nodes_with(gpu_type, p) < n:
        return None
    by_rack = _eligible_by_rack(index, gpu_type, p)
    if sum(len(v) for v in by_rack.values()) < n:
        return None
    chosen: list[int] = []
    for r in _choose_racks(index, by_rack, n):
        for _f, node in sorted(by_rack[r]):
            chosen.append(node)
            if len(chosen) == n:
                break
        if len(chosen) == n:
            break
    chosen.sort()
    return Placement(gpu_type, tuple((node, bit_indices(low_bits(index.mask[node], p))) for node in chosen))


def find_placement(index: FreeIndex, gpu_type: str, shape: Shape) -> Placement | None:
    """Where ``shape`` fits now on ``gpu_type`` nodes, or None. Does not change the index."""
    if index.known_unfit(gpu_type, shape.nodes, shape.per_node):
        return None
    if shape.nodes == 1:
        found = _single(index, gpu_type, shape.per_node)
    else:
        found = _gang(index, gpu_type, shape.nodes, shape.per_node)
    if found is None:
        index.remember_unfit(gpu_type, shape.nodes, shape.per_node)
    return found


def take(index: FreeIndex, placement: Placement) -> None:
    for node, mask in placement.masks:
        index.take(node, mask)


def give(index: FreeIndex, placement: Placement) -> None:
    for node, mask in placement.masks:
        index.give(node, mask)

