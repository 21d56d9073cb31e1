"""EASY backfill's reservation: the earliest time the head job can start, from the running jobs' walltimes.

Running jobs are released in order of the latest time they may hold their GPUs (:attr:`RunningJob.held_until`:
the walltime end, or the stop, plus the grace period) into a copy of the free index until the head fits; that
time and those nodes are its reservation. A later job may then start now only if it ends before the
reservation (walltime and grace included: :func:`gpucloud.core.lifetime.span`), or leaves on each reserved
node the GPUs the head needs there (``spare``).

A reservation is planned on the state of the cycle that uses it, never kept from an earlier cycle: a job
admitted ahead of the head since then (a higher priority class, a reservation's job) may have taken the GPUs
an old plan counted on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gpucloud.core.placement import find_placement, give
from gpucloud.core.room import Room
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import Placement, RunningJob
from gpucloud.model.job import Shape


@dataclass(slots=True)
class Reservation:
    job_id: str
    start: float
    placement: Placement
    #: per reserved node: GPUs that may still be used there past ``start`` without delaying the head.
    spare: dict[int, int]


def earliest_start(
    state: SchedulerState,
    job_id: str,
    options: list[tuple[str, Shape]],
    by_end: Iterable[RunningJob],
    now: float,
) -> Reservation | None:
    """Release running jobs in ``held_until`` order until one of ``options`` fits. Counted without changing the
    free index (:class:`Room`); only once a shape fits is a copy of the index made, to place it."""
    rooms = [(Room(state.index, t, shape), t, shape) for t, shape in options]
    released: list[RunningJob] = []
    running = iter(by_end)
    nxt = next(running, None)
    while nxt is not None:
        end = nxt.held_until
        while nxt is not None and nxt.held_until == end:
            released.append(nxt)
            for room, _, _ in rooms:
                room.add(nxt)
            nxt = next(running, None)
        for room, gpu_type, shape in rooms:
            if room.fits:
                index = state.index.copy()
                for r in released:
                    give(index, r.placement)
                found = find_placement(index, gpu_type, shape)
                assert found is not None  # the count says it fits
                spare = {n: index.free[n] - len(g) for n, g in found.nodes}
                return Reservation(job_id, max(now, end), found, spare)
    return None


def violates(reservation: Reservation, placement: Placement) -> bool:
    """Would a job holding ``placement`` past the reservation's start take GPUs the head needs?"""
    spare = reservation.spare
    return any(n in spare and len(g) > spare[n] for n, g in placement.nodes)


def consume(reservation: Reservation, placement: Placement) -> None:
    for n, g in placement.nodes:
        if n in reservation.spare:
            reservation.spare[n] -= len(g)
