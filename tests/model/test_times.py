"""One reader of points in time for the CLI, the API and tariff files (gpucloud.times)."""

from __future__ import annotations

import datetime as dt

import pytest

from gpucloud.errors import InputError
from gpucloud.times import parse_time, time_input

T = dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize("text", ["2026-12-07T09:00:00+09:00", "2026-12-07T09:00+09:00", "2026-12-07T00:00:00Z",
                                  "2026-12-07", "2026-12-07T00:00", str(T), T, int(T), dt.date(2026, 12, 7)])
def test_forms_of_one_instant(text: object) -> None:
    assert parse_time(text) == T


def test_a_zone_can_be_required_except_for_a_date() -> None:
    with pytest.raises(ValueError, match="time zone"):
        parse_time("2026-12-07T00:00", require_zone=True)
    assert parse_time("2026-12-07", require_zone=True) == T


@pytest.mark.parametrize("bad", ["soon", "", True, None, "nan", float("inf"), [1], -1, 1e300, "9999-01-01"])
def test_bad_times_name_the_field(bad: object) -> None:
    with pytest.raises(InputError) as e:
        time_input("--start", bad)
    assert e.value.field == "--start"
