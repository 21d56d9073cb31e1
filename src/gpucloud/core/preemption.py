"""Choosing victims: which running jobs to preempt so that a blocked job fits.

Removing victims is simulated arithmetically on the free index — per node, the GPUs that would be free — and
never changes it: a job of ``n`` nodes × ``p`` GPUs fits once ``n`` nodes of its type would have ``p`` free
(which is when topology-aware placement finds it a place; Kueue's "simulate a removal, then restore").

The policy lists the candidates in its order of preference, each with a tier (:meth:`Policy.victim_tier`: the
victim's priority class first). Victims are taken from the lowest tiers that can make room. Among the sets of
those candidates whose removal lets the job fit, the one chosen

1. takes no org below its guarantee of the GPU type, when some set does not;
2. preempts the fewest GPUs;
3. preempts the fewest jobs, then the most preferred ones.

The sets compared: every single candidate that is enough alone, and the policy's order taken greedily until
the job fits — once skipping candidates that would take their org below its guarantee, once not — then
pruned of every victim it can do without (the largest first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gpucloud.core.free_index import FreeIndex
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import RunningJob
from gpucloud.model.job import Shape

#: A victim set's rank: (takes an org below its guarantee, GPUs, jobs, sum of preference positions).
Score = tuple[bool, int, int, int]


class _Room:
    """The free GPUs per node of one GPU type as victims are (virtually) removed and put back, and how many
    nodes would have the ``per_node`` GPUs a shape needs."""

    def __init__(self, index: FreeIndex, gpu_type: str, shape: Shape) -> None:
        self.free = index.free
        self.need = shape.per_node
        self.nodes = shape.nodes
        self.added: dict[int, int] = {}
        self.eligible = index.nodes_with(gpu_type, shape.per_node)

    def add(self, run: RunningJob, sign: int = 1) -> None:
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


def choose_victims(
    state: SchedulerState, gpu_type: str, shape: Shape, candidates: Sequence[RunningJob],
    tier: Callable[[RunningJob], tuple[float, ...]],
) -> list[RunningJob] | None:
    """The victims on ``gpu_type`` whose removal lets ``shape`` fit (see the module); None if none do."""
    index = state.index
    pool = [v for v in candidates if v.placement.gpu_type == gpu_type and not v.preempting]
    free = index.type_free[gpu_type]
    if free + sum(v.placement.gpus for v in pool) < shape.gpus:
        return None
    # The lowest tiers that can make room: every candidate of the prefix removed at once must be enough.
    tiers = [tier(v) for v in pool]
    order = sorted(range(len(pool)), key=tiers.__getitem__)  # stable: the policy's order within a tier
    pool = [pool[i] for i in order]
    tiers = [tiers[i] for i in order]
    room = _Room(index, gpu_type, shape)
    i = 0
    while i < len(pool):
        t = tiers[i]
        while i < len(pool) and tiers[i] == t:
            room.add(pool[i])
            i += 1
        if room.fits:
            return _best(state, gpu_type, shape, pool[:i])
    return None


def _below(state: SchedulerState, gpu_type: str, victims: Sequence[RunningJob]) -> bool:
    """Would preempting ``victims`` leave an org they belong to below its guarantee of ``gpu_type``?"""
    taken: dict[str, int] = {}
    for v in victims:
        taken[v.spec.org] = taken.get(v.spec.org, 0) + v.placement.gpus
    return any(state.used_of(org)[gpu_type] - n < state.org(org).guaranteed(gpu_type) for org, n in taken.items())


def _greedy(state: SchedulerState, gpu_type: str, shape: Shape, pool: Sequence[RunningJob],
            safe: bool) -> list[RunningJob] | None:
    """Take ``pool`` in order until the job fits (with ``safe``, skipping a victim that would take its org
    below its guarantee), then drop every victim it can do without, the largest first."""
    room = _Room(state.index, gpu_type, shape)
    taken: list[RunningJob] = []
    left: dict[str, int] = {}
    for v in pool:
        if safe:
            org = v.spec.org
            have = left.get(org)
            if have is None:
                have = state.used_of(org)[gpu_type]
            if have - v.placement.gpus < state.org(org).guaranteed(gpu_type):
                continue
            left[org] = have - v.placement.gpus
        room.add(v)
        taken.append(v)
        if room.fits:
            break
    else:
        return None
    for v in sorted(taken[:-1], key=lambda r: -r.placement.gpus):
        room.add(v, -1)
        if room.fits:
            taken.remove(v)
        else:
            room.add(v)
    return taken


def _best_single(state: SchedulerState, gpu_type: str, shape: Shape, pool: list[RunningJob]) -> RunningJob | None:
    """The best victim that is enough alone (by the module's order), or None. Counted per candidate on the free
    index: removing it must give ``shape.nodes`` nodes with ``shape.per_node`` free GPUs."""
    index = state.index
    free, need, nodes = index.free, shape.per_node, shape.nodes
    eligible = index.nodes_with(gpu_type, need)
    short = shape.gpus - index.type_free[gpu_type]
    best: tuple[bool, int, int] | None = None
    chosen: RunningJob | None = None
    for i, v in enumerate(pool):
        p = v.placement
        if p.gpus < short:
            continue
        gained = 0
        for n, gs in p.nodes:
            f = free[n]
            if f < need <= f + len(gs):
                gained += 1
        if eligible + gained < nodes:
            continue
        org = v.spec.org
        key = (state.used_of(org)[gpu_type] - p.gpus < state.org(org).guaranteed(gpu_type), p.gpus, i)
        if best is None or key < best:
            best, chosen = key, v
    return chosen


def _best(state: SchedulerState, gpu_type: str, shape: Shape, pool: list[RunningJob]) -> list[RunningJob]:
    position = {v.spec.id: i for i, v in enumerate(pool)}

    def score(victims: Sequence[RunningJob]) -> Score:
        return (_below(state, gpu_type, victims), sum(v.placement.gpus for v in victims), len(victims),
                sum(position[v.spec.id] for v in victims))

    sets: list[list[RunningJob]] = []
    single = _best_single(state, gpu_type, shape, pool)
    if single is not None:
        sets.append([single])
    for safe in (True, False):
        found = _greedy(state, gpu_type, shape, pool, safe)
        if found is not None:
            sets.append(found)
    # the whole pool makes room (checked by the caller), so the unsafe greedy pass found a set
    return min(sets, key=score)
