"""Would a shape fit once some running jobs are gone? Counted on the free index without changing it: per node,
the GPUs that would be free, and how many nodes of the type would have the ``per_node`` GPUs the shape needs —
a gang of ``n`` nodes × ``p`` GPUs fits exactly when ``n`` such nodes exist (topology-aware placement then
always finds it a place). Victim search and EASY reservations both ask, often, for many candidate sets."""

from __future__ import annotations

from gpucloud.core.free_index import FreeIndex
from gpucloud.core.types import RunningJob
from gpucloud.model.job import Shape


class Room:
    """The free GPUs of one GPU type as running jobs are (virtually) removed and put back."""

    __slots__ = ("added", "eligible", "free", "need", "nodes", "type")

    def __init__(self, index: FreeIndex, gpu_type: str, shape: Shape) -> None:
        self.free = index.free
        self.type = gpu_type
        self.need = shape.per_node
        self.nodes = shape.nodes
        self.added: dict[int, int] = {}
        self.eligible = index.nodes_with(gpu_type, shape.per_node)

    def add(self, run: RunningJob, sign: int = 1) -> None:
        """Count ``run``'s GPUs free (``sign`` -1: held again). A run of another GPU type changes nothing."""
        if run.placement.gpu_type != self.type:
            return
        need, added, free = self.need, self.added, self.free
        for n, gs in run.placement.nodes:
            before = free[n] + added.get(n, 0)
            after = before + sign * len(gs)
            added[n] = after - free[n]
            if before < need <= after:
                self.eligible += 1
            elif after < need <= before:
                self.eligible -= 1

    @property
    def fits(self) -> bool:
        return self.eligible >= self.nodes
