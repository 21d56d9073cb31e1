"""Tariffs: points per GPU-hour by GPU type, multipliers by service and priority class, a minimum billed time.

A :class:`TariffBook` keeps the versions of a tariff in order of ``valid_from``; a run of a job is always
priced by the version *in force when that run started* (:meth:`TariffBook.in_force`), so a tariff change never
re-prices a job that is already running.

``valid_from`` is a UTC epoch second (float), like every time in gpucloud; tariff files may write it as an
ISO date or a datetime with a time zone (:mod:`gpucloud.money.tariff_file`).

The cost of ``gpus`` GPUs for ``seconds`` seconds is::

    billed  = 0                                   if seconds <= 0
            = max(minimum_seconds, seconds)        rounded up to a whole number of increment_seconds
    cost    = points_per_gpu_hour[gpu_type] × gpus × billed / 3600
              × service_multipliers[service_class] × priority_multipliers.get(priority_class, 1)

computed exactly and rounded once to 0.0001 points, half to even.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

from gpucloud.errors import InputError
from gpucloud.model.priority import DEFAULT_PRIORITY_CLASS
from gpucloud.money.points import Number, exact, points

#: Service classes every example tariff prices; a tariff may name others.
SERVICE_CLASSES = ("standard", "interactive", "reserved", "preemptible")
DEFAULT_SERVICE_CLASS = "standard"
#: A tariff that prices this class charges it, instead of ``standard``, for a job holding part of one node.
SHARED_SERVICE_CLASS = "shared"


def priced_class(tariff: Tariff, service_class: str, part_of_a_node: bool) -> str:
    """The class a run is charged at: a ``standard`` run that holds only part of one node pays the ``shared``
    class when the tariff has one (a national supercomputer's "1.5 points per single GPU" against 7.5 per
    8-GPU node: the premium pays for the rest of the node a small job strands); anything else as asked."""
    if (part_of_a_node and service_class == DEFAULT_SERVICE_CLASS
            and SHARED_SERVICE_CLASS in tariff.service_multipliers):
        return SHARED_SERVICE_CLASS
    return service_class


def _frozen(mapping: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Tariff:
    """One version of a price list. Prices and multipliers are exact Decimals (not rounded)."""

    name: str
    valid_from: float
    points_per_gpu_hour: Mapping[str, Decimal]
    service_multipliers: Mapping[str, Decimal] = field(
        default_factory=lambda: {DEFAULT_SERVICE_CLASS: Decimal(1)}
    )
    #: Priority classes not named here cost 1×.
    priority_multipliers: Mapping[str, Decimal] = field(default_factory=dict)
    minimum_seconds: int = 0
    #: Billed time is rounded up to a whole number of these (1: per second; 0: not rounded).
    increment_seconds: int = 0
    description: str = ""

    def __post_init__(self) -> None:
        if not math.isfinite(self.valid_from):
            raise InputError("valid_from", "must be a finite UTC epoch second", self.valid_from)
        for fname in ("points_per_gpu_hour", "service_multipliers", "priority_multipliers"):
            values: Mapping[str, Decimal] = getattr(self, fname)
            for key, v in values.items():
                if not isinstance(v, Decimal) or not v.is_finite() or v < 0:
                    raise InputError(f"{fname}.{key}", "must be a finite, non-negative Decimal", v)
            object.__setattr__(self, fname, _frozen(values))
        if self.minimum_seconds < 0:
            raise InputError("minimum_seconds", "must not be negative", self.minimum_seconds)
        if self.increment_seconds < 0:
            raise InputError("increment_seconds", "must not be negative", self.increment_seconds)

    def billed_seconds(self, seconds: Number) -> Fraction:
        """The time charged for a run of ``seconds``: 0 for a run that never ran, else at least the minimum."""
        s = exact(seconds)
        if s <= 0:
            return Fraction(0)
        s = max(s, Fraction(self.minimum_seconds))
        if self.increment_seconds:
            s = math.ceil(s / self.increment_seconds) * Fraction(self.increment_seconds)
        return s

    def rate(self, gpu_type: str, service_class: str, priority_class: str) -> Fraction:
        """Points per GPU-hour for this combination, exactly; :class:`InputError` names an unpriced one."""
        try:
            price = self.points_per_gpu_hour[gpu_type]
        except KeyError:
            known = ", ".join(sorted(self.points_per_gpu_hour))
            raise InputError("gpu_type", f"tariff {self.name!r} has no price for it (priced: {known})",
                             gpu_type) from None
        try:
            service = self.service_multipliers[service_class]
        except KeyError:
            known = ", ".join(sorted(self.service_multipliers))
            raise InputError("service_class", f"tariff {self.name!r} does not offer it (offered: {known})",
                             service_class) from None
        priority = self.priority_multipliers.get(priority_class, Decimal(1))
        return Fraction(price) * Fraction(service) * Fraction(priority)


def cost(
    tariff: Tariff,
    gpu_type: str,
    gpus: int,
    seconds: Number,
    service_class: str = DEFAULT_SERVICE_CLASS,
    priority_class: str = DEFAULT_PRIORITY_CLASS,
) -> Decimal:
    """The points ``gpus`` GPUs of ``gpu_type`` cost for ``seconds`` seconds, minimum billed time applied."""
    if gpus < 0:
        raise InputError("gpus", "must not be negative", gpus)
    exact_cost = tariff.rate(gpu_type, service_class, priority_class) * gpus * tariff.billed_seconds(seconds) / 3600
    return points(exact_cost)


class TariffBook:
    """The versions of a tariff, ordered by ``valid_from`` (no two versions share one)."""

    __slots__ = ("_starts", "_tariffs")

    def __init__(self, tariffs: Iterable[Tariff]) -> None:
        ordered = sorted(tariffs, key=lambda t: t.valid_from)
        if not ordered:
            raise InputError("tariffs", "at least one tariff is needed")
        for a, b in itertools.pairwise(ordered):
            if a.valid_from == b.valid_from:
                raise InputError("valid_from", f"tariffs {a.name!r} and {b.name!r} start at the same time",
                                 b.valid_from)
        self._tariffs: tuple[Tariff, ...] = tuple(ordered)
        self._starts = [t.valid_from for t in ordered]

    @property
    def tariffs(self) -> tuple[Tariff, ...]:
        return self._tariffs

    def in_force(self, at: float) -> Tariff:
        """The tariff valid at ``at`` (the latest with ``valid_from <= at``)."""
        i = bisect.bisect_right(self._starts, at)
        if i == 0:
            raise InputError("at", f"no tariff is in force yet; the first starts at {self._starts[0]}", at)
        return self._tariffs[i - 1]

    def __len__(self) -> int:
        return len(self._tariffs)

    def __repr__(self) -> str:
        return f"TariffBook({[t.name for t in self._tariffs]!r})"
