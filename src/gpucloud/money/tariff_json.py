"""A tariff version as JSON (prices as decimal strings, never floats): the API's and the database's shape."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gpucloud.money.tariff import Tariff


def tariff_to_json(t: Tariff) -> dict[str, Any]:
    return {
        "name": t.name, "description": t.description, "valid_from": t.valid_from,
        "minimum_seconds": t.minimum_seconds, "increment_seconds": t.increment_seconds,
        "points_per_gpu_hour": {k: str(v) for k, v in t.points_per_gpu_hour.items()},
        "service_classes": {k: str(v) for k, v in t.service_multipliers.items()},
        "priority_classes": {k: str(v) for k, v in t.priority_multipliers.items()},
    }


def tariff_from_json(d: Mapping[str, Any]) -> Tariff:
    def dec(m: Mapping[str, Any]) -> dict[str, Decimal]:
        return {k: Decimal(str(v)) for k, v in m.items()}

    return Tariff(name=d["name"], valid_from=float(d["valid_from"]), description=d.get("description", ""),
                  points_per_gpu_hour=dec(d["points_per_gpu_hour"]), service_multipliers=dec(d["service_classes"]),
                  priority_multipliers=dec(d.get("priority_classes", {})),
                  minimum_seconds=int(d.get("minimum_seconds", 0)),
                  increment_seconds=int(d.get("increment_seconds", 0)))
