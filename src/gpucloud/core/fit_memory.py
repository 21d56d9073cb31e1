"""Failure memory for one cycle: once a shape failed, every larger shape of the same GPU type fails too.

A single-node job of ``g`` GPUs that did not fit means no node has ``g`` free, so nothing of ``g' >= g`` fits;
a gang of ``n`` nodes × ``p`` that did not fit means no gang of ``n' >= n`` nodes × ``p' >= p`` fits either.
"""

from __future__ import annotations


class FitMemory:
    __slots__ = ("gang", "single")

    def __init__(self) -> None:
        self.single: dict[str, int] = {}
        self.gang: dict[tuple[str, int], int] = {}

    def clear(self) -> None:
        self.single.clear()
        self.gang.clear()

    def save(self) -> tuple[dict[str, int], dict[tuple[str, int], int]]:
        return dict(self.single), dict(self.gang)

    def restore(self, saved: tuple[dict[str, int], dict[tuple[str, int], int]]) -> None:
        self.single, self.gang = saved

    def known(self, gpu_type: str, nodes: int, per_node: int) -> bool:
        single = self.single.get(gpu_type)
        if single is not None and per_node >= single:
            return True
        if nodes > 1:
            gang = self.gang.get((gpu_type, per_node))
            return gang is not None and nodes >= gang
        return False

    def remember(self, gpu_type: str, nodes: int, per_node: int) -> None:
        if nodes == 1:
            cur = self.single.get(gpu_type)
            if cur is None or per_node < cur:
                self.single[gpu_type] = per_node
        else:
            key = (gpu_type, per_node)
            cur = self.gang.get(key)
            if cur is None or nodes < cur:
                self.gang[key] = nodes
