"""Shared helpers for the money tests: a small tariff with round numbers, so hand-worked sums stay readable."""

from __future__ import annotations

from decimal import Decimal

from gpucloud.money.tariff import Tariff

D = Decimal


def simple_tariff(name: str = "t1", valid_from: float = 0.0, h100: str = "2") -> Tariff:
    """H100-80GB 2 points per GPU-hour; standard/interactive 1×, reserved 1.5×, preemptible 0.5×; high 1.5×;
    at least 60 s billed."""
    return Tariff(
        name=name,
        valid_from=valid_from,
        points_per_gpu_hour={"H100-80GB": D(h100), "H200-141GB": D("0.9375")},
        service_multipliers={"standard": D(1), "interactive": D(1), "reserved": D("1.5"), "preemptible": D("0.5")},
        priority_multipliers={"high": D("1.5")},
        minimum_seconds=60,
    )
