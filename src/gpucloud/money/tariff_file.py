"""Tariff files (YAML), validated with errors that name the field and the bad value.

Format::

    tariffs:
      - name: fy2025
        valid_from: 2025-04-01            # a date (midnight UTC), a datetime with a zone, or epoch seconds
        minimum_seconds: 60               # optional, default 0
        increment_seconds: 1              # optional: bill whole multiples of this (default 0: exact)
        points_per_gpu_hour: {H200-141GB: 0.9375}
        service_classes: {standard: 1.0, interactive: 1.0, reserved: 1.5, preemptible: 0.5}
        priority_classes: {high: 1.5}     # optional; classes not named cost 1×

Numbers are read as exact decimals (``0.9375`` is 0.9375, never a binary float); quoting them is allowed.
Given a cluster, every priced GPU type must be one of the cluster's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gpucloud.errors import InputError, UnknownNameError
from gpucloud.model.cluster import Cluster
from gpucloud.model.priority import PRIORITY_CLASSES
from gpucloud.model.validation import read_yaml, validate_document
from gpucloud.money.tariff import DEFAULT_SERVICE_CLASS, Tariff, TariffBook
from gpucloud.times import parse_time


class TariffSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    valid_from: float = Field(allow_inf_nan=False)

    @field_validator("valid_from", mode="before")
    @classmethod
    def _epoch(cls, v: Any) -> Any:
        return epoch(v)
    minimum_seconds: int = Field(default=0, ge=0)
    increment_seconds: int = Field(default=0, ge=0)
    points_per_gpu_hour: dict[str, Decimal] = Field(min_length=1)
    service_classes: dict[str, Decimal] = Field(default_factory=lambda: {DEFAULT_SERVICE_CLASS: Decimal(1)})
    priority_classes: dict[str, Decimal] = Field(default_factory=dict)


class TariffFileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tariffs: list[TariffSpec] = Field(min_length=1)


def epoch(value: Any) -> Any:
    """A date (midnight UTC), an aware date-time, or their ISO text, as UTC epoch seconds; numbers pass (the
    file's schema checks them)."""
    if isinstance(value, str | dt.date):
        return parse_time(value, require_zone=True)
    return value


def tariffs_from_dict(data: Any, cluster: Cluster | None = None, where: str = "tariffs") -> TariffBook:
    spec = validate_document(TariffFileSpec, data, "tariffs", "a mapping with a list of tariffs", where)
    out: list[Tariff] = []
    seen_names: set[str] = set()
    seen_starts: dict[float, str] = {}
    for i, t in enumerate(spec.tariffs):
        f = f"tariffs[{i}]"
        if t.name in seen_names:
            raise InputError(f"{f}.name", "duplicate tariff name", t.name, where=where)
        seen_names.add(t.name)
        start = t.valid_from
        if start in seen_starts:
            raise InputError(f"{f}.valid_from", f"tariff {seen_starts[start]!r} already starts then",
                             start, where=where)
        seen_starts[start] = t.name
        for kind in ("points_per_gpu_hour", "service_classes", "priority_classes"):
            for key, v in getattr(t, kind).items():
                if v < 0:
                    raise InputError(f"{f}.{kind}.{key}", "must not be negative", str(v), where=where)
        if cluster is not None:
            for g in t.points_per_gpu_hour:
                if g not in cluster.gpu_types:
                    msg = UnknownNameError("GPU type", g, list(cluster.gpu_types)).message
                    msg = msg.replace(" (known:", " (this cluster has:", 1)
                    raise InputError(f"{f}.points_per_gpu_hour", msg, where=where)
        for p in t.priority_classes:
            if p not in PRIORITY_CLASSES:
                msg = UnknownNameError("priority class", p, list(PRIORITY_CLASSES)).message
                raise InputError(f"{f}.priority_classes", msg, where=where)
        out.append(Tariff(
            name=t.name, valid_from=start, description=t.description,
            points_per_gpu_hour=t.points_per_gpu_hour, service_multipliers=t.service_classes,
            priority_multipliers=t.priority_classes, minimum_seconds=t.minimum_seconds,
            increment_seconds=t.increment_seconds,
        ))
    return TariffBook(out)


def load_tariffs(path: str | Path, cluster: Cluster | None = None) -> TariffBook:
    """Load a tariff file; :class:`InputError` names the file, the field and the bad value."""
    data = read_yaml(path, "tariffs")
    return tariffs_from_dict(data, cluster, where=str(path))
