"""Choosing victims: simulate removing candidate jobs from the free index until the preemptor fits, then
restore them. Only the victims that are really needed are kept (each is put back in turn and dropped from
the list if the preemptor still fits without it).
"""

from __future__ import annotations

from gpucloud.core.placement import find_placement, give, take
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import RunningJob
from gpucloud.model.job import Shape


def choose_victims(
    state: SchedulerState, gpu_type: str, shape: Shape, candidates: list[RunningJob]
) -> list[RunningJob] | None:
    """The fewest-in-order candidates on ``gpu_type`` whose removal lets ``shape`` fit; None if impossible."""
    index = state.index
    pool = [v for v in candidates if v.placement.gpu_type == gpu_type and not v.preempting]
    if index.type_free[gpu_type] + sum(v.placement.gpus for v in pool) < shape.gpus:
        return None
    saved = index.memory.save()
    index.caching = False
    removed: list[RunningJob] = []
    try:
        for v in pool:
            give(index, v.placement)
            removed.append(v)
            if index.type_free[gpu_type] >= shape.gpus and find_placement(index, gpu_type, shape) is not None:
                break
        else:
            return None
        needed = list(removed)
        for v in removed[:-1]:
            take(index, v.placement)
            if find_placement(index, gpu_type, shape) is not None:
                needed.remove(v)
                removed.remove(v)
            else:
                give(index, v.placement)
        return needed
    finally:
        for v in removed:
            take(index, v.placement)
        index.caching = True
        index.memory.restore(saved)
