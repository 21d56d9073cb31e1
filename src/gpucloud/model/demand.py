"""A service's demand: how many replicas it wants at a point in time — a step function of UTC epoch seconds.

Three sources, one shape (:class:`Steps`, or :class:`Fixed` for a pushed value):

* a **weekly schedule** (:func:`weekly`): replicas by time of day, per day of the week, in the site's local time
  (a fixed UTC offset); it repeats every week;
* a **curve** (:func:`curve`): measured or planned points ``(time, replicas)`` from a start time, optionally
  repeating with a period (a day, a week);
* a **pushed value** (:class:`Fixed`): what an operator or an autoscaler last set (``gpucloud service scale``).

Each answers :meth:`~Steps.at` (the replicas wanted at ``t``) and :meth:`~Steps.next_change` (the first time
after ``t`` at which that may change), so a caller can walk the future without sampling it:
:func:`wanted` (the replicas to run at ``t`` with a ramp-up lead time) and :func:`rises` (when each further
replica must run). Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from gpucloud.errors import InputError

DAY = 86400.0
WEEK = 7 * DAY
#: 1970-01-05 00:00 UTC, a Monday: weekly schedules count from a Monday 00:00.
MONDAY = 4 * DAY
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: The most replicas a demand may ask for, and the most points a curve or schedule may have.
MAX_REPLICAS = 100_000
MAX_POINTS = 100_000


@dataclass(frozen=True, slots=True)
class Fixed:
    """A constant demand: the value last pushed."""

    replicas: int

    def __post_init__(self) -> None:
        _check_replicas("replicas", self.replicas)

    def at(self, t: float) -> int:
        return self.replicas

    def next_change(self, t: float) -> float | None:
        return None

    @property
    def peak(self) -> int:
        return self.replicas


@dataclass(frozen=True, slots=True)
class Steps:
    """A step function: ``points`` are ``(offset, replicas)`` with offsets ascending from ``start`` (epoch
    seconds), each value holding until the next point. With ``period`` the points lie in ``[0, period)`` and
    repeat (before the first point of a period, the last point's value holds); without, the value is 0 before the
    first point and the last value holds after the last one."""

    points: tuple[tuple[float, int], ...]
    start: float = 0.0
    period: float | None = None
    _offsets: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.points:
            raise InputError("points", "a demand curve needs at least one point")
        if len(self.points) > MAX_POINTS:
            raise InputError("points", f"must be at most {MAX_POINTS:,} (it has {len(self.points):,})")
        if not math.isfinite(self.start):
            raise InputError("start", "must be a finite time", self.start)
        if self.period is not None and not (math.isfinite(self.period) and self.period > 0):
            raise InputError("period", "must be a positive number of seconds", self.period)
        last = -math.inf
        for i, (offset, replicas) in enumerate(self.points):
            if not math.isfinite(offset) or offset < 0 or offset <= last:
                raise InputError(f"points[{i}]", "times must be finite, from 0 and strictly increasing", offset)
            if self.period is not None and offset >= self.period:
                raise InputError(f"points[{i}]", f"must lie within the period ({self.period:g} s)", offset)
            _check_replicas(f"points[{i}]", replicas)
            last = offset
        object.__setattr__(self, "_offsets", tuple(o for o, _ in self.points))

    def _base(self, t: float) -> tuple[float, float]:
        """(the start of the period holding ``t``, ``t``'s offset in it)."""
        x = t - self.start
        if self.period is None:
            return self.start, x
        cycles = math.floor(x / self.period)
        return self.start + cycles * self.period, x - cycles * self.period

    def at(self, t: float) -> int:
        _, x = self._base(t)
        i = bisect_right(self._offsets, x) - 1
        if i < 0:
            return self.points[-1][1] if self.period is not None else 0
        return self.points[i][1]

    def next_change(self, t: float) -> float | None:
        base, x = self._base(t)
        offsets = self._offsets
        i = bisect_right(offsets, x)
        if i < len(offsets):
            nxt = base + offsets[i]
        elif self.period is None:
            return None
        else:
            nxt = base + self.period + offsets[0]
        return nxt if nxt > t else math.nextafter(t, math.inf)

    @property
    def peak(self) -> int:
        return max(r for _, r in self.points)


Demand = Fixed | Steps


def _check_replicas(field: str, replicas: object) -> None:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 0 <= replicas <= MAX_REPLICAS:
        raise InputError(field, f"replicas must be a whole number from 0 to {MAX_REPLICAS:,}", replicas)


def changes(demand: Demand, after: float, until: float) -> Iterator[float]:
    """The times in ``(after, until]`` at which ``demand`` may change, in order."""
    t = demand.next_change(after)
    while t is not None and t <= until:
        yield t
        t = demand.next_change(t)


def wanted(demand: Demand, t: float, lead: float = 0.0) -> int:
    """The replicas to run at ``t``: the most the demand asks for from ``t`` to ``t + lead`` (replicas start
    ``lead`` seconds before they are needed; they stop when the demand falls, unless it rises again within the
    lead time)."""
    best = demand.at(t)
    for c in changes(demand, t, t + lead):
        best = max(best, demand.at(c))
    return best


def rises(demand: Demand, now: float, have: int, lead: float, until: float) -> list[float]:
    """When each replica beyond ``have`` must be running, for those due by ``until``: the k-th extra one at
    ``max(now, U_k - lead)``, ``U_k`` the first time from ``now`` at which the demand reaches ``have + k``."""
    out: list[float] = []
    level = have
    for u in _with_now(demand, now, until + lead):
        value = demand.at(u)
        while value > level:
            level += 1
            out.append(max(now, u - lead))
    return out


def _with_now(demand: Demand, now: float, until: float) -> Iterable[float]:
    yield now
    yield from changes(demand, now, until)


def weekly(days: Mapping[str, Iterable[tuple[float, int]]], utc_offset: float = 0.0) -> Steps:
    """A weekly schedule. ``days`` maps ``mon`` .. ``sun`` (or ``daily``, ``weekdays``, ``weekend``; the most
    specific key wins) to ``(seconds after local midnight, replicas)`` steps; ``utc_offset`` is the local time's
    offset from UTC in seconds (``+09:00`` is 32,400)."""
    if not -14 * 3600 <= utc_offset <= 14 * 3600:
        raise InputError("utc_offset", "must be between -14:00 and +14:00", utc_offset)
    groups = {"daily": WEEKDAYS, "weekdays": WEEKDAYS[:5], "weekend": WEEKDAYS[5:]}
    table: dict[str, list[tuple[float, int]]] = {}
    for key in ("daily", "weekdays", "weekend", *WEEKDAYS):
        if key not in days:
            continue
        steps = sorted(days[key])
        for i, (sec, replicas) in enumerate(steps):
            if not 0 <= sec < DAY:
                raise InputError(f"{key}[{i}]", "a time of day must be from 00:00 to 23:59:59", sec)
            _check_replicas(f"{key}[{i}]", replicas)
        for day in groups.get(key, (key,)):
            table[day] = steps
    unknown = set(days) - set(groups) - set(WEEKDAYS)
    if unknown:
        raise InputError("schedule", f"unknown day {sorted(unknown)[0]!r} (use mon .. sun, daily, weekdays, "
                         "weekend)", sorted(unknown)[0])
    if not table:
        raise InputError("schedule", "give the replicas for at least one day (mon .. sun, daily, weekdays, "
                         "weekend)")
    points: list[tuple[float, int]] = []
    for d, day in enumerate(WEEKDAYS):
        for sec, replicas in table.get(day, ()):
            points.append((d * DAY + sec, replicas))
    return Steps(tuple(_merged(points)), MONDAY - utc_offset, WEEK)


def curve(points: Iterable[tuple[float, int]], start: float, period: float | None = None) -> Steps:
    """A curve of ``(seconds after start, replicas)`` points (sorted here; equal neighbours merged)."""
    return Steps(tuple(_merged(sorted(points))), start, period)


def _merged(points: Iterable[tuple[float, int]]) -> Iterator[tuple[float, int]]:
    """Drop points that repeat the value before them (the first point is always kept)."""
    last: int | None = None
    for t, r in points:
        if r != last:
            yield t, r
            last = r


def average(demand: Demand, start: float, end: float) -> float:
    """The mean replicas wanted over ``[start, end)``."""
    if end <= start:
        raise InputError("end", "must be after start", end)
    total, t, value = 0.0, start, demand.at(start)
    for c in changes(demand, start, end):
        total += value * (c - t)
        t, value = c, demand.at(c)
    total += value * (end - t)
    return total / (end - start)


def window(demand: Demand, start: float, end: float, origin: float | None = None) -> Steps:
    """``demand`` during ``[start, end)`` only (0 before and after), moved to begin at ``origin`` (default
    ``start``): one week of a weekly schedule, on a replay's clock."""
    if end <= start:
        raise InputError("end", "must be after start", end)
    points = [(0.0, demand.at(start))]
    points += [(c - start, demand.at(c)) for c in changes(demand, start, end) if c < end]
    points.append((end - start, 0))
    return curve(points, start if origin is None else origin)


def peak(demand: Demand, start: float, end: float) -> int:
    """The most replicas ``demand`` asks for during ``[start, end)``."""
    return max([demand.at(start), *(demand.at(c) for c in changes(demand, start, end) if c < end)])
