"""Walltime requests as users make them, for traces that record only how long jobs ran (Philly, Alibaba).

The readers' default (``walltime = 2 × duration``) is a request no user makes: it knows the run time exactly.
Real requests (Tsafrir, Etsion and Feitelson, "Modeling User Runtime Estimates", JSSPP 2005; Slurm and PBS logs
of ARCHER2 and Cirrus) are a few round values, the queue's maximum the most common of them, and each user has
habits. :func:`with_requests` gives every job such a request, deterministically (one seeded random stream in
trace order):

* each org has two habits, drawn once from the seed: the share of its jobs that simply ask for the queue
  maximum (uniform in ``max_share``) and how much it over-asks otherwise (a factor uniform in ``over_ask``);
* a job asks for the queue maximum with its org's share; otherwise for its run time × its org's factor × a
  per-job spread (log-normal, ``spread``), **rounded up** to the next of :data:`ROUND_VALUES` (5, 10, 15, 30
  minutes; 1, 2, 4, 6, 8, 12 hours; 1, 2, 3, 5, 7 days) and at most the queue maximum;
* a job that ran longer than the queue maximum was granted a longer limit: its run time rounded up to whole
  days (no job of the trace is cut short by its request).

``benchmarks/bench_forecast.py`` replays Philly with these requests (``docs/forecasts.md``).
"""

from __future__ import annotations

import dataclasses
import math
import random
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from gpucloud.errors import InputError
from gpucloud.sim.traces.base import TraceJob

_M, _H, _D = 60.0, 3600.0, 86400.0
#: the values requests are rounded up to (seconds)
ROUND_VALUES = (5 * _M, 10 * _M, 15 * _M, 30 * _M, _H, 2 * _H, 4 * _H, 6 * _H, 8 * _H, 12 * _H,
                _D, 2 * _D, 3 * _D, 5 * _D, 7 * _D)


@dataclass(frozen=True, slots=True)
class RequestModel:
    """How users ask (see the module): the queue's maximum walltime (seconds), the range of each org's share of
    jobs asking for it, the range of each org's over-asking factor, and the per-job spread (σ of a log-normal)."""

    queue_max: float = 7 * _D
    max_share: tuple[float, float] = (0.1, 0.5)
    over_ask: tuple[float, float] = (1.5, 4.0)
    spread: float = 0.5
    seed: int = 1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.queue_max) and self.queue_max >= ROUND_VALUES[0]):
            raise InputError("queue_max", f"must be at least {ROUND_VALUES[0]:.0f} seconds", self.queue_max)
        lo, hi = self.max_share
        if not 0.0 <= lo <= hi <= 1.0:
            raise InputError("max_share", "must be a range within 0..1", self.max_share)
        lo, hi = self.over_ask
        if not 1.0 <= lo <= hi:
            raise InputError("over_ask", "must be a range of factors of at least 1", self.over_ask)
        if not (math.isfinite(self.spread) and self.spread >= 0):
            raise InputError("spread", "must be a non-negative number", self.spread)


def round_up(seconds: float, queue_max: float) -> float:
    """The first round value at or above ``seconds``, at most ``queue_max``."""
    i = bisect_left(ROUND_VALUES, seconds)
    return min(queue_max, ROUND_VALUES[i]) if i < len(ROUND_VALUES) else queue_max


def with_requests(jobs: Sequence[TraceJob], model: RequestModel = RequestModel()) -> list[TraceJob]:
    """``jobs`` with walltimes asked as users ask them (see the module); the same jobs and model give the same
    requests."""
    rng = random.Random(model.seed)
    habits: dict[str, tuple[float, float]] = {}
    out = []
    for job in jobs:
        spec = job.spec
        habit = habits.get(spec.org)
        if habit is None:
            habit = habits[spec.org] = (rng.uniform(*model.max_share), rng.uniform(*model.over_ask))
        share, factor = habit
        if job.duration > model.queue_max:
            asked = math.ceil(job.duration / _D) * _D
        elif rng.random() < share:
            asked = model.queue_max
        else:
            wanted = max(job.duration, 1.0) * factor * math.exp(rng.gauss(0.0, model.spread))
            asked = round_up(max(wanted, job.duration), model.queue_max)
        out.append(dataclasses.replace(job, spec=dataclasses.replace(spec, walltime=asked)))
    return out
