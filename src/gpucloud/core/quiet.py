"""Cycles that cannot decide anything, skipped. Under strict FIFO, once a cycle stopped at a blocked head job
and started and preempted nothing, the next cycle finds the same until something changes that could let a job
start or preempt:

* a job is queued that ranks before the head, or one is cancelled, or bookings or down nodes change, or a
  running job is put back (the scheduler forgets the quiet state: the next cycle runs in full);
* GPUs are given back: the head may fit now. If a job ranked before the head was refused by quota (the release
  may have made room in its org's quota) or some waiting job may preempt, the next cycle runs in full;
  otherwise it only tries to place the head, and runs in full if that succeeds.

Exact, not a heuristic: a cycle skipped here would have admitted and preempted nothing. (A scheduler rebuilt
every cycle never skips, and the simulator's rebuild test checks that replays are the same.) Most cycles of a
FIFO replay on a full cluster are such cycles: every arrival behind a blocked head, every release too small for
it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpucloud.core.placement import find_placement
from gpucloud.core.policies.base import Policy
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import PendingJob


@dataclass(slots=True)
class Quiet:
    head: PendingJob
    #: the head's queue key: a job queued with a lower key ranks before it
    key: tuple[float, ...]
    #: a job ranked before the head was refused by quota in that cycle
    refused_before: bool
    #: GPUs were given back since
    released: bool = False


def still_quiet(state: SchedulerState, policy: Policy, quiet: Quiet) -> bool:
    """Would a cycle now admit and preempt nothing (see the module)? Keeps ``quiet`` up to date."""
    if not quiet.released:
        return True
    if quiet.refused_before or policy.may_preempt():
        return False
    jid = quiet.head.spec.id
    org = state.org(quiet.head.spec.org)
    used = state.used_of(quiet.head.spec.org)
    for gpu_type, shape in state.shapes[jid]:
        ceiling = org.ceiling(gpu_type)
        if (ceiling is None or used[gpu_type] + shape.gpus <= ceiling) and find_placement(
                state.index, gpu_type, shape) is not None:
            return False
    quiet.released = False
    return True
