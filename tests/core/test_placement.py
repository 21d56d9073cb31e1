"""Topology-aware placement and the free-capacity index.

Clusters are built from dicts: ``topo([[4, 4], [3]])`` is two blocks, the first with two racks of 4 nodes,
the second with one rack of 3 nodes, all 8-GPU H100 nodes named ``b<block>-r<rack>-n<i>``.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gpucloud.core.free_index import FreeIndex, bit_indices, to_mask
from gpucloud.core.placement import find_placement, give, take
from gpucloud.core.types import Placement
from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import cluster_from_dict, parse_inline
from gpucloud.model.job import JobSpec, Shape
from gpucloud.sim.engine import simulate
from gpucloud.sim.traces.base import TraceJob

H100 = "H100-80GB"


def topo(blocks: list[list[int]], gpus: int = 8) -> Cluster:
    return cluster_from_dict({
        "name": "t",
        "blocks": [
            {"name": f"b{b}", "racks": [
                {"name": f"r{r}", "nodes": [{"name": "n", "count": n, "gpus": gpus, "gpu_type": H100}]}
                for r, n in enumerate(racks)
            ]}
            for b, racks in enumerate(blocks)
        ],
    })


def node(cluster: Cluster, name: str) -> int:
    return cluster.node_by_name(name).index


def fill(index: FreeIndex, cluster: Cluster, name: str, gpus: int | None = None) -> None:
    """Take ``gpus`` (default all) of node ``name``'s GPUs, lowest first."""
    n = node(cluster, name)
    k = cluster.nodes[n].gpus if gpus is None else gpus
    take(index, Placement(H100, ((n, tuple(range(k))),)))


def names(cluster: Cluster, p: Placement) -> list[str]:
    return [cluster.nodes[n].name for n, _ in p.nodes]


def place(index: FreeIndex, nodes: int, per_node: int) -> Placement:
    p = find_placement(index, H100, Shape(nodes, per_node))
    assert p is not None
    # A gang uses distinct nodes, with per_node GPUs on each, all free.
    assert len({n for n, _ in p.nodes}) == nodes
    assert all(len(g) == per_node for _, g in p.nodes)
    assert all(index.mask[n] & to_mask(g) == to_mask(g) for n, g in p.nodes)
    return p


# --- single-node jobs: best fit -------------------------------------------------------------------------


def test_single_node_job_goes_to_the_tightest_node() -> None:
    """Free GPUs per node: n0 8, n1 3, n2 5, n3 2. 3 GPUs → n1 (exactly 3); 4 → n2 (5 is the least that
    fits); 6 → n0; 2 → n3."""
    c = topo([[4]])
    idx = FreeIndex(c)
    fill(idx, c, "b0-r0-n1", 5)
    fill(idx, c, "b0-r0-n2", 3)
    fill(idx, c, "b0-r0-n3", 6)
    assert names(c, place(idx, 1, 3)) == ["b0-r0-n1"]
    assert names(c, place(idx, 1, 4)) == ["b0-r0-n2"]
    assert names(c, place(idx, 1, 6)) == ["b0-r0-n0"]
    assert names(c, place(idx, 1, 2)) == ["b0-r0-n3"]
    p = place(idx, 1, 3)
    assert p.nodes == ((node(c, "b0-r0-n1"), (5, 6, 7)),)  # the free GPUs of n1, lowest first


def test_single_node_job_that_fits_nowhere() -> None:
    c = topo([[2]])
    idx = FreeIndex(c)
    fill(idx, c, "b0-r0-n0", 4)
    fill(idx, c, "b0-r0-n1", 3)
    assert find_placement(idx, H100, Shape(1, 6)) is None
    assert names(c, place(idx, 1, 5)) == ["b0-r0-n1"]


# --- gangs: racks and blocks ----------------------------------------------------------------------------


def test_gang_that_fits_a_rack_is_placed_in_one_rack() -> None:
    """One block, racks r0 and r1 of 4 nodes. r0's n0 is busy, so r0 has 3 whole nodes free, r1 4.

    A 3-node gang fits in either rack → the tightest, r0 (3 eligible nodes). A 4-node gang only fits r1."""
    c = topo([[4, 4]])
    idx = FreeIndex(c)
    fill(idx, c, "b0-r0-n0")
    p3 = place(idx, 3, 8)
    assert p3.racks(c) == 1 and names(c, p3) == ["b0-r0-n1", "b0-r0-n2", "b0-r0-n3"]
    p4 = place(idx, 4, 8)
    assert p4.racks(c) == 1 and {n.split("-")[1] for n in names(c, p4)} == {"r1"}


def test_tightest_rack_by_free_gpus_when_eligible_counts_tie() -> None:
    """A gang of 2 nodes × 4. r0: nodes with 8 and 8 free; r1: 4 and 8 free (n0 half busy); r2: 8, 8.
    Each rack has 2 eligible nodes; r1 has the fewest free GPUs (12) → r1, and inside it the tighter node
    first (both are used here)."""
    c = topo([[2, 2, 2]])
    idx = FreeIndex(c)
    fill(idx, c, "b0-r1-n0", 4)
    p = place(idx, 2, 4)
    assert p.racks(c) == 1 and sorted(names(c, p)) == ["b0-r1-n0", "b0-r1-n1"]


def test_gang_that_fits_a_rack_does_not_take_a_bigger_hole() -> None:
    """r0 has 4 whole free nodes, r1 2: a 2-node gang goes to r1, keeping r0 whole for a 4-node gang."""
    c = topo([[4, 4]])
    idx = FreeIndex(c)
    fill(idx, c, "b0-r1-n0")
    fill(idx, c, "b0-r1-n1")
    p = place(idx, 2, 8)
    assert {n.split("-")[1] for n in names(c, p)} == {"r1"}
    take(idx, p)
    assert place(idx, 4, 8).racks(c) == 1


def test_gang_larger_than_a_rack_spans_the_fewest_racks_in_one_block() -> None:
    """Block b0: four racks of 2 nodes (6 nodes need 3 racks); block b1: racks of 4 and 3 (2 racks).
    A 6-node gang goes to b1 over 2 racks, although b0 has more free nodes."""
    c = topo([[2, 2, 2, 2], [4, 3]])
    idx = FreeIndex(c)
    p = place(idx, 6, 8)
    assert (p.racks(c), p.blocks(c)) == (2, 1)
    assert all(n.startswith("b1-") for n in names(c, p))
    # The 4-node rack is used whole, and 2 of the 3-node rack.
    assert Counter(n.split("-")[1] for n in names(c, p)) == {"r0": 4, "r1": 2}


def test_gang_spanning_racks_prefers_the_tightest_block_on_ties() -> None:
    """Both blocks need 2 racks for a 5-node gang; b0 has 8 free nodes, b1 only 6 → b1."""
    c = topo([[4, 4], [4, 2]])
    idx = FreeIndex(c)
    p = place(idx, 5, 8)
    assert (p.racks(c), p.blocks(c)) == (2, 1)
    assert all(n.startswith("b1-") for n in names(c, p))


def test_gang_spans_blocks_only_when_needed() -> None:
    """Three blocks of one 4-node rack each. Busy: 2 nodes of b1, 1 node of b2 → free b0 4, b1 2, b2 3.

    4 nodes → b0 only (1 block). Then 5 nodes (free: b1 2, b2 3) → must span 2 blocks: all of them.
    On the first state again, 6 nodes → 2 blocks, taking the blocks with the most free nodes first: all 4
    of b0, then 2 of b2 (3 free) rather than b1 (2 free)."""
    c = topo([[4], [4], [4]])
    idx = FreeIndex(c)
    fill(idx, c, "b1-r0-n0")
    fill(idx, c, "b1-r0-n1")
    fill(idx, c, "b2-r0-n0")
    p4 = place(idx, 4, 8)
    assert p4.blocks(c) == 1 and all(n.startswith("b0-") for n in names(c, p4))
    take(idx, p4)
    p5 = place(idx, 5, 8)
    assert p5.blocks(c) == 2
    assert Counter(n.split("-")[0] for n in names(c, p5)) == {"b2": 3, "b1": 2}
    take(idx, p5)
    assert find_placement(idx, H100, Shape(1, 1)) is None

    fresh = FreeIndex(c)
    fill(fresh, c, "b1-r0-n0")
    fill(fresh, c, "b1-r0-n1")
    fill(fresh, c, "b2-r0-n0")
    p6 = place(fresh, 6, 8)
    assert p6.blocks(c) == 2
    assert Counter(n.split("-")[0] for n in names(c, p6)) == {"b0": 4, "b2": 2}


def test_gang_needs_whole_distinct_nodes() -> None:
    """Two nodes with 6 free each hold 12 GPUs but not a 2 × 8 gang; a 2 × 6 gang fits on them."""
    c = topo([[2]])
    idx = FreeIndex(c)
    fill(idx, c, "b0-r0-n0", 2)
    fill(idx, c, "b0-r0-n1", 2)
    assert find_placement(idx, H100, Shape(2, 8)) is None
    p = place(idx, 2, 6)
    assert sorted(names(c, p)) == ["b0-r0-n0", "b0-r0-n1"]


def test_gang_uses_only_nodes_of_its_gpu_type() -> None:
    c = cluster_from_dict({
        "name": "mixed",
        "blocks": [{"racks": [{"nodes": [{"name": "h", "count": 2, "gpus": 8, "gpu_type": H100},
                                         {"name": "b", "count": 2, "gpus": 8, "gpu_type": "B200-180GB"}]}]}],
    })
    idx = FreeIndex(c)
    p = find_placement(idx, "B200-180GB", Shape(2, 8))
    assert p is not None and sorted(names(c, p)) == ["b-r-b0", "b-r-b1"]
    take(idx, p)
    assert find_placement(idx, "B200-180GB", Shape(1, 1)) is None
    assert find_placement(idx, H100, Shape(2, 8)) is not None


def test_simulator_records_racks_and_blocks() -> None:
    """Inline 40x8: racks of 4 nodes, blocks of 8 racks (32 nodes) → blocks b0 (32 nodes) and b1 (8).
    a: 32 GPUs = 4 nodes → one rack. b: 40 GPUs = 5 nodes → 2 racks of one block. c: 36 nodes (288 GPUs)
    → more than a block → 2 blocks. Each starts after the previous one (submitted 10 s apart, 5 s long)."""
    c = parse_inline("40x8")
    jobs = [TraceJob(JobSpec(j, "o", g, t, 5), 5) for j, g, t in [("a", 32, 0), ("b", 40, 10), ("c", 288, 20)]]
    res = simulate(c, jobs, "fifo")
    got = {r.job_id: (r.racks, r.blocks) for r in res.jobs}
    assert got["a"] == (1, 1)
    assert got["b"] == (2, 1)
    assert got["c"][1] == 2 and got["c"][0] == 9


# --- the free index ------------------------------------------------------------------------------------


def recount(index: FreeIndex, cluster: Cluster) -> None:
    """Compare every derived figure of the index with a brute-force recount from the masks."""
    by_type: Counter[str] = Counter()
    expected: dict[str, list[set[int]]] = {t: [set() for _ in b] for t, b in index.buckets.items()}
    for n in cluster.nodes:
        m = index.mask[n.index]
        assert 0 <= m < (1 << n.gpus)
        assert index.free[n.index] == m.bit_count()
        by_type[n.gpu_type] += m.bit_count()
        if m:
            expected[n.gpu_type][m.bit_count()].add(n.index)
    for t, buckets in index.buckets.items():
        assert [set(b) for b in buckets] == expected[t], t
        assert index.type_free[t] == by_type[t]
    assert index.total_free == sum(by_type.values())


def brute_fits(index: FreeIndex, cluster: Cluster, gpu_type: str, shape: Shape) -> bool:
    eligible = sum(1 for n in cluster.nodes if n.gpu_type == gpu_type and index.free[n.index] >= shape.per_node)
    return eligible >= shape.nodes


def mixed_cluster() -> Cluster:
    return cluster_from_dict({
        "name": "mixed",
        "blocks": [
            {"name": "b", "count": 2, "racks": [
                {"name": "r", "count": 2, "nodes": [{"name": "n", "count": 3, "gpus": 8, "gpu_type": H100}]},
                {"name": "s", "nodes": [{"name": "m", "count": 2, "gpus": 4, "gpu_type": "B200-180GB"}]},
            ]},
        ],
    })


@pytest.mark.parametrize("seed", range(8))
def test_free_index_stays_consistent_under_random_take_and_give(seed: int) -> None:
    """Random takes (of free GPUs) and gives (of held GPUs), with a brute-force recount after each."""
    rng = random.Random(seed)
    c = mixed_cluster()
    idx = FreeIndex(c)
    held = [0] * len(c.nodes)
    for _ in range(300):
        n = rng.randrange(len(c.nodes))
        full = (1 << c.nodes[n].gpus) - 1
        if rng.random() < 0.55:
            free = full & ~held[n]
            sub = free & rng.randrange(full + 1)
            if sub:
                idx.take(n, sub)
                held[n] |= sub
        else:
            sub = held[n] & rng.randrange(full + 1)
            if sub:
                idx.give(n, sub)
                held[n] &= ~sub
        assert idx.mask == [((1 << nd.gpus) - 1) & ~held[nd.index] for nd in c.nodes]
        recount(idx, c)
    copy = idx.copy()
    recount(copy, c)
    assert copy.mask == idx.mask and copy.buckets is not idx.buckets


def test_free_index_rejects_double_take_and_double_give() -> None:
    c = topo([[1]])
    idx = FreeIndex(c)
    idx.take(0, 0b11)
    with pytest.raises(ValueError, match="not free"):
        idx.take(0, 0b110)
    with pytest.raises(ValueError, match="already free"):
        idx.give(0, 0b100)
    recount(idx, c)
    assert bit_indices(idx.mask[0]) == (2, 3, 4, 5, 6, 7)


@pytest.mark.parametrize("seed", range(8))
def test_failure_memory_never_refuses_a_placement_that_exists(seed: int) -> None:
    """Within 'cycles' of random queries, takes of found placements and occasional gives, find_placement
    returns None exactly when a brute-force count says no fit exists (the memory of failed sizes is sound),
    and every placement it returns is valid."""
    rng = random.Random(seed)
    c = mixed_cluster()
    idx = FreeIndex(c)
    running: list[Placement] = []
    for _ in range(40):
        idx.new_cycle()
        for _ in range(12):
            t = rng.choice([H100, "B200-180GB"])
            per_node = rng.randint(1, c.max_node_gpus[t])
            nodes = 1 if rng.random() < 0.5 else rng.randint(2, 5)
            shape = Shape(nodes, per_node)
            found = find_placement(idx, t, shape)
            assert (found is not None) == brute_fits(idx, c, t, shape), (t, shape)
            if found is not None:
                assert len({n for n, _ in found.nodes}) == nodes
                assert all(c.nodes[n].gpu_type == t and len(g) == per_node for n, g in found.nodes)
                if rng.random() < 0.7:
                    take(idx, found)
                    running.append(found)
            if running and rng.random() < 0.2:
                give(idx, running.pop(rng.randrange(len(running))))
        recount(idx, c)


def test_failure_memory_is_cleared_by_a_give() -> None:
    """After a 2-GPU job fails, 3 GPUs are known not to fit; a give makes room and clears the memory."""
    c = topo([[1]])
    idx = FreeIndex(c)
    p = Placement(H100, ((0, tuple(range(7))),))
    take(idx, p)
    assert find_placement(idx, H100, Shape(1, 2)) is None
    assert idx.known_unfit(H100, 1, 3)
    assert not idx.known_unfit(H100, 1, 1)
    give(idx, p)
    assert not idx.known_unfit(H100, 1, 3)
    assert find_placement(idx, H100, Shape(1, 3)) is not None
