"""Run times predicted from history: how long a job will run, learned from how long finished jobs ran against
what they asked for.

The rule is simple on purpose, so that every estimate can be explained in one line:

* Each finished run is remembered as the ratio ``actual / requested`` — the time it ran (counted on the
  reference GPU speed 1.0: ``actual × speed`` of the type it ran on) over the walltime it asked for — in every
  group it belongs to: its user with its shape, its user, its project with its shape, its project, its org with
  its shape, its org, everyone with its shape, everyone. A job's **shape** is its GPU count and the power of two
  of the minutes of walltime it asked (1 h and 1.5 h are one class, 2 h the next): users who ask the same thing
  tend to run alike.
* A job's run time at quantile ``q`` is ``q``'s quantile of the ratios of the most specific of its groups that
  has at least ``min_samples`` runs, times its walltime, divided by the speed of the GPU type it runs on; with
  no such group, its walltime (what Slurm assumes for every job).
* A job already running for ``elapsed`` seconds is predicted from the ratios of the runs that lasted longer
  than that (the quantile conditional on having survived so far); when no group knows enough such runs, it is
  expected to run to its walltime.
* Each group keeps its ``keep`` latest runs: habits change.

Pure: no I/O, no clock. :class:`WalltimeOnly` is the predictor of Slurm's ``squeue --start``, the baseline the
learned one is measured against (``benchmarks/bench_forecast.py``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from gpucloud.model.job import JobSpec

#: the groups of a job, most specific first (the key parts named in each estimate's ``basis``)
LEVELS = ("user+shape", "user", "project+shape", "project", "org+shape", "org", "shape", "all")


@dataclass(frozen=True, slots=True)
class RanJob:
    """One finished run: who ran it, its GPUs, the walltime it asked for, how long it ran (seconds) and the speed
    of the GPU type it ran on."""

    user: str
    project: str
    org: str
    gpus: int
    requested: float
    actual: float
    speed: float = 1.0


@dataclass(frozen=True, slots=True)
class Estimate:
    """A predicted run time (seconds on the GPU type asked about) and what it is based on: ``level`` one of
    :data:`LEVELS` or ``"walltime"``, ``ratio`` the quantile of actual/requested used, ``samples`` how many runs
    it was taken from."""

    seconds: float
    level: str
    ratio: float
    samples: int

    @property
    def basis(self) -> str:
        """The estimate in words, e.g. ``"0.31 × walltime, from 37 runs of this org and shape"``."""
        if self.level == "walltime":
            return "the walltime (no history for this job yet)"
        return f"{self.ratio:.2f} × walltime, from {self.samples} runs of {_WORDS[self.level]}"


_WORDS = {"user+shape": "this user and shape", "user": "this user", "project+shape": "this project and shape",
          "project": "this project", "org+shape": "this org and shape", "org": "this org", "shape": "this shape",
          "all": "all jobs"}


class Predictor(Protocol):
    """What a forecast needs: a job's run time at a quantile, given how long its run has gone on already."""

    def predict(self, spec: JobSpec, q: float, elapsed: float = 0.0, speed: float = 1.0) -> Estimate: ...


def wall_class(walltime: float) -> int:
    """The class of a walltime request: the power of two of its minutes (59 s and 1 min: 0; 2–3 min: 1, ...)."""
    return max(0, int(math.log2(max(1.0, walltime / 60.0))))


def group_keys(user: str, project: str, org: str, gpus: int, walltime: float) -> list[tuple[str, Hashable]]:
    """The groups a job belongs to, most specific first, as (level, key); unnamed users and projects have none."""
    shape = (gpus, wall_class(walltime))
    keys: list[tuple[str, Hashable]] = []
    if user:
        keys += [("user+shape", (user, shape)), ("user", user)]
    if project:
        keys += [("project+shape", (org, project, shape)), ("project", (org, project))]
    keys += [("org+shape", (org, shape)), ("org", org), ("shape", shape), ("all", None)]
    return keys


@dataclass
class _Group:
    ratios: deque[float]
    #: the ratios sorted, rebuilt on the first query after a change
    ranked: list[float] | None = None

    def sorted(self) -> list[float]:
        if self.ranked is None:
            self.ranked = sorted(self.ratios)
        return self.ranked


@dataclass
class RunTimes:
    """The learned predictor (see the module): feed it finished runs with :meth:`learn`, ask :meth:`predict`."""

    #: the fewest runs (surviving the elapsed time, for a running job) a group needs to be used
    min_samples: int = 5
    #: runs kept per group, the latest
    keep: int = 256
    _groups: dict[tuple[str, Hashable], _Group] = field(default_factory=dict)
    learned: int = 0

    def learn(self, run: RanJob) -> None:
        """Remember one finished run in each of its groups."""
        if not (run.requested > 0 and math.isfinite(run.actual)):
            return
        ratio = max(0.0, run.actual * run.speed / run.requested)
        for key in group_keys(run.user, run.project, run.org, run.gpus, run.requested):
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(deque(maxlen=self.keep))
            group.ratios.append(ratio)
            group.ranked = None
        self.learned += 1

    def learn_all(self, runs: Iterable[RanJob]) -> None:
        for run in runs:
            self.learn(run)

    def predict(self, spec: JobSpec, q: float, elapsed: float = 0.0, speed: float = 1.0) -> Estimate:
        """``spec``'s run time at quantile ``q`` (0–1) on a GPU type of ``speed``, knowing it has run ``elapsed``
        seconds (never less than that, never more than its walltime plus its grace period)."""
        wall = spec.walltime
        lo = elapsed * speed / wall  # the ratio it has reached already
        for key in group_keys(spec.user, spec.project, spec.org, spec.num_gpus, wall):
            group = self._groups.get(key)
            if group is None or len(group.ratios) < self.min_samples:
                continue
            ranked = group.sorted()
            first = bisect_right(ranked, lo) if elapsed > 0 else 0
            left = len(ranked) - first
            if left < self.min_samples:
                continue
            ratio = ranked[first + min(left - 1, int(q * left))]
            seconds = min(wall + spec.grace, max(elapsed, ratio * wall / speed))
            return Estimate(seconds, key[0], ratio, left)
        return walltime_estimate(spec, elapsed)


def walltime_estimate(spec: JobSpec, elapsed: float = 0.0) -> Estimate:
    """The job runs to its walltime."""
    return Estimate(max(elapsed, spec.walltime), "walltime", 1.0, 0)


class WalltimeOnly:
    """Every job runs to its walltime: what Slurm's ``squeue --start`` assumes."""

    def predict(self, spec: JobSpec, q: float, elapsed: float = 0.0, speed: float = 1.0) -> Estimate:
        return walltime_estimate(spec, elapsed)
