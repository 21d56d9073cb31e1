"""Choosing victims: which running jobs to preempt so that a blocked job fits.

Removing victims is simulated arithmetically on the free index (:class:`gpucloud.core.room.Room`) and never
changes it (Kueue's "simulate a removal, then restore", without the restore).

The policy lists the candidates in its order of preference, lowest tier first (:meth:`Policy.victim_tier`: the
victim's priority class first). The search takes them in that order until they make room together, and then
up to :data:`WINDOW` more of the same tier: victims come from the lowest tiers that can make room. Among the
sets of those candidates whose removal lets the job fit, the one chosen

1. takes no org below its guarantee of the GPU type, when some set does not;
2. preempts the fewest GPUs;
3. preempts the fewest jobs, then the most preferred ones.

The sets compared: every single candidate that is enough alone, and the policy's order taken greedily until
the job fits — once skipping candidates that would take their org below its guarantee, once not — then
pruned of every victim it can do without (the largest first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from gpucloud.core.room import Room
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import RunningJob
from gpucloud.model.job import Shape

#: A victim set's rank: (takes an org below its guarantee, GPUs, jobs, sum of preference positions).
Score = tuple[bool, int, int, int]
#: How many candidates past the first point where they make room the search still considers (of the same tier):
#: enough to find fewer or smaller victims, few enough that a search among thousands of running jobs stays cheap.
WINDOW = 32


def choose_victims(
    state: SchedulerState, gpu_type: str, shape: Shape, candidates: Iterable[RunningJob],
    tier: Callable[[RunningJob], tuple[float, ...]],
) -> list[RunningJob] | None:
    """The victims on ``gpu_type`` whose removal lets ``shape`` fit (see the module); None if none do.
    ``candidates`` come in the policy's order, lowest tier first, and are taken only as far as needed."""
    room = Room(state.index, gpu_type, shape)
    pool: list[RunningJob] = []
    fit_at = 0
    fit_tier: tuple[float, ...] = ()
    for v in candidates:
        if v.placement.gpu_type != gpu_type or v.preempting:
            continue
        t = tier(v)
        if fit_at and (t != fit_tier or len(pool) >= fit_at + WINDOW):
            break
        pool.append(v)
        room.add(v)
        if not fit_at and room.fits:
            fit_at, fit_tier = len(pool), t
    return _best(state, gpu_type, shape, pool) if fit_at else None


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
    room = Room(state.index, gpu_type, shape)
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
    dropped: set[str] = set()
    for v in sorted(taken[:-1], key=lambda r: -r.placement.gpus):
        room.add(v, -1)
        if room.fits:
            dropped.add(v.spec.id)
        else:
            room.add(v)
    return [v for v in taken if v.spec.id not in dropped]


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
