"""Demand step functions (``gpucloud.model.demand``) and the services file (``gpucloud.model.service_file``),
checked on values worked out by hand."""

from __future__ import annotations

import pytest

from gpucloud.errors import InputError
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.demand import DAY, MONDAY, Fixed, average, curve, peak, rises, wanted, weekly, window
from gpucloud.model.service_file import services_from_dict

H = 3600.0


def test_a_weekly_schedule_in_local_time() -> None:
    """Weekdays 2 replicas from 08:00 and 1 from 20:00 (local, UTC+09:00); weekends 1 all day. Monday 08:00 local
    is Sunday 23:00 UTC."""
    d = weekly({"weekdays": [(8 * H, 2), (20 * H, 1)], "weekend": [(0.0, 1)]}, 9 * H)
    monday_local = MONDAY - 9 * H
    assert d.at(monday_local + 7 * H) == 1 and d.at(monday_local + 8 * H) == 2
    assert d.at(monday_local + 20 * H) == 1
    assert d.next_change(monday_local + 7 * H) == monday_local + 8 * H
    assert d.at(monday_local + 5 * DAY + 12 * H) == 1  # Saturday noon
    assert average(d, monday_local, monday_local + 7 * DAY) == pytest.approx((5 * (12 * 2 + 12) + 2 * 24) / 168)


def test_wanted_looks_ahead_by_the_lead_and_rises_say_when_each_replica_must_run() -> None:
    d = curve([(0, 1), (100, 3), (200, 0)], 1000.0)
    assert wanted(d, 1050.0) == 1 and wanted(d, 1050.0, lead=60.0) == 3
    assert wanted(d, 1150.0, lead=60.0) == 3 and wanted(d, 1150.0) == 3 and wanted(d, 1200.0, lead=60.0) == 0
    assert rises(d, 1000.0, 1, 60.0, 2000.0) == [1040.0, 1040.0]
    assert rises(Fixed(2), 5.0, 0, 0.0, 5.0) == [5.0, 5.0]


def test_window_and_peak() -> None:
    d = curve([(0, 1), (100, 3), (200, 2)], 0.0)
    w = window(d, 50.0, 250.0, origin=0.0)
    assert [w.at(t) for t in (0.0, 49.0, 50.0, 150.0, 199.0, 200.0)] == [1, 1, 3, 2, 2, 0]
    assert peak(d, 200.0, 300.0) == 2 and peak(d, 0.0, 300.0) == 3


def test_bad_demand_names_the_field() -> None:
    with pytest.raises(InputError, match=r"points\[1\]"):
        curve([(0, 1), (10, -1)], 0.0)
    with pytest.raises(InputError, match="unknown day 'someday'"):
        weekly({"someday": [(0.0, 1)]})


def test_a_services_file_resolves_sites_and_names_bad_fields() -> None:
    cluster = parse_inline("8x4")
    doc = {"services": [{"name": "ran-a", "class": "ran", "gpus_per_replica": 2, "gpu_type": "H100-80GB",
                         "sites": ["b0-r1"], "lead_s": 60,
                         "demand": {"weekly": {"utc_offset": "+09:00", "daily": {"08:00": 3, "22:00": 1}}}}]}
    (spec,) = services_from_dict(doc, cluster)
    assert spec.nodes == (4, 5, 6, 7) and spec.lead == 60.0 and spec.demand.peak == 3
    bad = {"services": [{**doc["services"][0], "demand": {"weekly": {"daily": [1] * 23}}}]}
    with pytest.raises(InputError, match="24 hourly values"):
        services_from_dict(bad, cluster)
    bad = {"services": [{**doc["services"][0], "gpus_per_replica": 0}]}
    with pytest.raises(InputError, match=r"services\[0\]\.gpus_per_replica"):
        services_from_dict(bad, cluster)
    with pytest.raises(InputError, match="two services"):
        services_from_dict({"services": doc["services"] * 2}, cluster)
