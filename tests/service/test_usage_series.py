"""Usage over time (``GET /api/v1/usage/series``, :mod:`gpucloud.service.usage_series`), numbers by hand.

The clock starts at 1_700_000_000 = 2023-11-14 22:13:20 UTC; the next UTC midnight is 1_700_006_400, 6,400 s
later. A run of 3 h from there has 6,400 s on the 14th and 4,400 s on the 15th.

The endpoint takes GPU-hours (and runs) from the jobs' runs in ``job_events`` and points from the ledger's
charges; with a tariff the two describe the same runs, so the numbers are those of the charges alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock, World, make_world
from money_books import Manual
from test_budgets import TARIFF

from gpucloud.errors import InputError
from gpucloud.model.job import JobState
from gpucloud.money.usage import ChargeRecord, aggregate
from gpucloud.service.loop import ControlLoop, LoopConfig
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import PlacedNode
from gpucloud.service.transitions import apply_transition
from gpucloud.service.usage_series import RunRecord, bucket_starts, default_start, label, series

T0 = 1_700_000_000.0
MIDNIGHT = 1_700_006_400.0  # 2023-11-15 00:00 UTC
DEC1 = 1_701_388_800.0  # 2023-12-01 00:00 UTC
D = Decimal


def _rec(org: str, start: float, end: float, gpus: int, pts: str, subsidy: str = "0") -> ChargeRecord:
    return ChargeRecord(org, "default", f"{org}-user", "H100-80GB", start, end, gpus, D(pts), D(subsidy))


def _rows(points: list[Any]) -> list[tuple[str, str, str, str, str]]:
    return [(p.label, p.org, str(p.gpu_hours), str(p.points), str(p.subsidy)) for p in points]


def test_a_run_over_midnight_is_split_by_time() -> None:
    # 2 GPUs × 3 h for 12 points: 6,400 / 10,800 of it on the 14th.
    # GPU-hours 2 × 6400 / 3600 = 3.5555… → 3.5556 and 2 × 4400 / 3600 = 2.4444…
    # points 12 × 6400 / 10800 = 7.1111… → 7.1111, the rest 4.8889 (the parts add up to 12 exactly)
    rec = _rec("alpha", T0, T0 + 10_800, 2, "12")
    assert _rows(series([rec], "day")) == [
        ("2023-11-14", "alpha", "3.5556", "7.1111", "0.0000"),
        ("2023-11-15", "alpha", "2.4444", "4.8889", "0.0000"),
    ]
    month = series([rec], "month")
    assert _rows(month) == [("2023-11", "alpha", "6.0000", "12.0000", "0.0000")]
    assert month[0].start == 1_698_796_800.0  # 2023-11-01
    assert month[0].runs == 1


def test_month_buckets_match_the_monthly_csv_and_subsidy_is_split_too() -> None:
    # 1 GPU, 23:00 on 30 Nov to 01:00 on 1 Dec: an hour in each month; 3 points of which 1 subsidy.
    recs = [_rec("beta", DEC1 - 3600, DEC1 + 3600, 1, "3", "1"), _rec("alpha", T0, T0 + 10_800, 2, "12")]
    got = series(recs, "month")
    assert _rows(got) == [
        ("2023-11", "alpha", "6.0000", "12.0000", "0.0000"),
        ("2023-11", "beta", "1.0000", "1.5000", "0.5000"),
        ("2023-12", "beta", "1.0000", "1.5000", "0.5000"),
    ]
    assert got[1].charged == D("1.0000")
    csv_rows = aggregate(recs)
    assert [(r.month, r.org, r.gpu_hours, r.points, r.subsidy) for r in csv_rows] == \
        [(p.label, p.org, p.gpu_hours, p.points, p.subsidy) for p in got]


def test_ranges_select_whole_buckets() -> None:
    rec = _rec("alpha", T0, T0 + 10_800, 2, "12")
    # from inside the 15th: the whole 15th, nothing of the 14th
    assert _rows(series([rec], "day", since=MIDNIGHT + 60)) == [("2023-11-15", "alpha", "2.4444", "4.8889", "0.0000")]
    # up to the 15th's midnight (exclusive): only the 14th
    assert _rows(series([rec], "day", until=MIDNIGHT)) == [("2023-11-14", "alpha", "3.5556", "7.1111", "0.0000")]
    assert [label(s, "day") for s in bucket_starts(T0, MIDNIGHT + 1, "day")] == ["2023-11-14", "2023-11-15"]
    assert [label(s, "month") for s in bucket_starts(T0, DEC1 + 1, "month")] == ["2023-11", "2023-12"]
    assert label(default_start(T0, "day"), "day") == "2023-10-16"  # 30 days with the 14th
    assert label(default_start(T0, "month"), "month") == "2022-12"  # 12 months with November
    with pytest.raises(InputError):
        bucket_starts(0, T0, "day")  # > 1000 days


def test_runs_give_gpu_hours_and_charges_give_points() -> None:
    # alpha: a charge of 12 points for 2 GPUs × 3 h from T0, and the same run as a run: GPU-hours once, not twice.
    # beta ran 1 GPU for 1 h at 23:00 on the 14th with no charge (no tariff then): 1 GPU-hour, 0 points.
    # gamma: a paid reservation's charge (whole window), no job ran in it: points but no GPU-hours.
    recs = [_rec("alpha", T0, T0 + 10_800, 2, "12"), _rec("gamma", T0, T0 + 3600, 4, "8")]
    runs = [RunRecord(1, "alpha", "default", "alpha-user", "H100-80GB", T0, T0 + 10_800, 2),
            RunRecord(2, "beta", "default", "beta-user", "H100-80GB", MIDNIGHT - 3600, MIDNIGHT, 1)]
    got = series(recs, "day", runs=runs)
    assert _rows(got) == [
        ("2023-11-14", "alpha", "3.5556", "7.1111", "0.0000"),
        ("2023-11-14", "beta", "1.0000", "0.0000", "0.0000"),
        ("2023-11-14", "gamma", "0.0000", "8.0000", "0.0000"),
        ("2023-11-15", "alpha", "2.4444", "4.8889", "0.0000"),
    ]
    assert [p.runs for p in got] == [1, 1, 0, 1]  # runs of jobs, not charge records


# --- through the API, with runs charged by the control loop ---------------------------------------------------

@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    clock = FakeClock(now=T0)
    w = make_world(db_url, tmp_path, clock, cluster_file="1x4:H100")
    assert w.call("admin", "POST", "/api/v1/tariffs", TARIFF).status_code == 201  # 2 points per GPU-hour
    for project in ("alpha/default", "beta/default"):
        r = w.call("admin", "POST", f"/api/v1/budgets/{project}/topup", {"amount": "100"})
        assert r.status_code == 200, r.text
    ctx = w.app.state.gpucloud
    executor = Manual()
    loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, executor, engine=ctx.engine, clock=clock,
                       config=LoopConfig())
    # alice (alpha): 2 GPUs for 3 h = 12 points; bob (beta): 1 GPU for 3 h = 6 points; both from T0
    a = int(w.submit("alice", argv=["true"], num_gpus=2, walltime="4h")["id"])
    b = int(w.submit("bob", argv=["true"], num_gpus=1, walltime="4h")["id"])
    loop.tick()
    assert {w.call("admin", "GET", f"/api/v1/jobs/{j}").json()["state"] for j in (a, b)} == {"running"}
    clock.advance(10_800)
    executor.finish(a)
    executor.finish(b)
    loop.tick()
    assert w.call("admin", "GET", f"/api/v1/jobs/{a}").json()["final_cost"] == "12.0000"
    assert w.call("admin", "GET", f"/api/v1/jobs/{b}").json()["final_cost"] == "6.0000"
    yield w
    loop.leader.release()
    w.client.close()
    ctx.engine.dispose()


def _series(w: World, user: str, query: str) -> Any:
    r = w.call(user, "GET", f"/api/v1/usage/series?{query}")
    assert r.status_code == 200, r.text
    return r.json()


def _items(doc: Any) -> list[tuple[str, str, str, str]]:
    return [(i["bucket"], i["org"], i["gpu_hours"], i["points"]) for i in doc["items"]]


def test_series_endpoint_days_months_and_tenancy(world: World) -> None:
    doc = _series(world, "admin", "bucket=day&from=2023-11-13&to=2023-11-16")
    assert [b["label"] for b in doc["buckets"]] == ["2023-11-13", "2023-11-14", "2023-11-15"]
    # bob: 1 GPU × 6400 s = 1.7778 GPU-h, 6 × 6400 / 10800 = 3.5556 points; 1.2222 and 2.4444 on the 15th
    assert _items(doc) == [
        ("2023-11-14", "alpha", "3.5556", "7.1111"),
        ("2023-11-14", "beta", "1.7778", "3.5556"),
        ("2023-11-15", "alpha", "2.4444", "4.8889"),
        ("2023-11-15", "beta", "1.2222", "2.4444"),
    ]
    item = doc["items"][0]
    assert (item["project"], item["gpu_type"], item["runs"], item["charged"]) == ("default", "H100-80GB", 1, "7.1111")

    month = _series(world, "admin", f"bucket=month&to={T0 + 86_400}")
    assert [b["label"] for b in month["buckets"]][-2:] == ["2023-10", "2023-11"] and len(month["buckets"]) == 12
    assert _items(month) == [("2023-11", "alpha", "6.0000", "12.0000"), ("2023-11", "beta", "3.0000", "6.0000")]
    csv = world.call("admin", "GET", "/api/v1/usage?month=2023-11").json()
    assert [(r["org"], r["gpu_hours"], r["points"]) for r in csv] == [
        (i["org"], i["gpu_hours"], i["points"]) for i in month["items"]]

    # members and org-admins: their own org only; another org is refused
    for user in ("alice", "alpha-admin"):
        mine = _series(world, user, "bucket=day&from=2023-11-14&to=2023-11-16")
        assert {i["org"] for i in mine["items"]} == {"alpha"} and len(mine["items"]) == 2
    assert world.call("alice", "GET", "/api/v1/usage/series?org=beta").status_code == 404  # as if there were none
    assert _items(_series(world, "admin", "bucket=day&org=beta&from=2023-11-15&to=2023-11-16")) == [
        ("2023-11-15", "beta", "1.2222", "2.4444")]
    # the default range: 30 days up to now (the clock is at 01:13 on the 15th)
    default = _series(world, "bob", "")
    assert default["bucket"] == "day" and default["buckets"][-1]["label"] == "2023-11-15"
    assert len(default["buckets"]) == 30


def test_series_endpoint_rejects_bad_input(world: World) -> None:
    for query, field in (("bucket=week", "bucket"), ("from=yesterday", "from"), ("to=nan", "to"),
                         ("from=2023-11-15&to=2023-11-14", "from"), ("from=2000-01-01&to=2023-11-14", "from")):
        r = world.call("admin", "GET", f"/api/v1/usage/series?{query}")
        assert r.status_code == 422, (query, r.text)
        assert r.json()["detail"][0]["field"] == field, (query, r.json())


# --- no tariff: GPU-hours from the runs in job_events ---------------------------------------------------------

H = 3600.0
NOW = MIDNIGHT + 86_400 + 3 * H  # 2023-11-16 03:00 UTC


def _move(w: World, job_id: int, at: float, *states: JobState) -> None:
    """Move a job through ``states`` at ``at`` as the control loop would (no loop runs in these tests)."""
    with w.app.state.gpucloud.sessions.begin() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        for st in states:
            apply_transition(s, job, st, f"test: {st}", at, placement=[PlacedNode("n0", (0,))], gpu_type="H100-80GB",
                             exit_code=0 if st == JobState.SUCCEEDED else None)


@pytest.fixture
def bare(db_url: str, tmp_path: Path) -> Iterator[World]:
    """No tariff, so no charges. Jobs submitted at T0 (22:13:20 on the 14th), moved by hand:

    - A (alice, alpha, 2 GPUs): runs 23:00 on the 14th → 01:00 on the 15th: 2 GPU-h on each day.
    - B (bob, beta, 1 GPU): runs 01:00 → 02:00 on the 15th (preempted at 01:30, requeued at 02:00: the grace
      counts), waits 02:00 → 05:00 (not counted), runs again 05:00 → 06:30 and succeeds: 1 + 1.5 = 2.5 GPU-h.
    - C (amy, alpha, 1 GPU): running since 22:00 on the 15th, still running at NOW (03:00 on the 16th): 2 GPU-h
      on the 15th, 3 on the 16th.
    - D (alice, alpha, 2 GPUs): never ran (pending).
    """
    clock = FakeClock(now=T0)
    w = make_world(db_url, tmp_path, clock, cluster_file="1x4:H100")
    assert w.call("admin", "GET", "/api/v1/tariffs").json()["tariffs"] == []
    a = int(w.submit("alice", num_gpus=2, walltime="4h")["id"])
    b = int(w.submit("bob", num_gpus=1, walltime="4h")["id"])
    c = int(w.submit("amy", num_gpus=1, walltime="8h")["id"])
    w.submit("alice", num_gpus=2, walltime="4h")
    R, S = JobState.RUNNING, JobState.SUCCEEDED
    _move(w, a, MIDNIGHT - H - 60, JobState.ADMITTED)
    _move(w, a, MIDNIGHT - H, R)
    _move(w, a, MIDNIGHT + H, S)
    _move(w, b, MIDNIGHT + H, JobState.ADMITTED, R)
    _move(w, b, MIDNIGHT + 1.5 * H, JobState.PREEMPTING)
    _move(w, b, MIDNIGHT + 2 * H, JobState.PENDING)
    _move(w, b, MIDNIGHT + 5 * H, JobState.ADMITTED, R)
    _move(w, b, MIDNIGHT + 6.5 * H, S)
    _move(w, c, MIDNIGHT + 22 * H, JobState.ADMITTED, R)
    clock.now = NOW
    yield w
    w.client.close()
    w.app.state.gpucloud.engine.dispose()


def _full(doc: Any) -> list[tuple[str, str, str, int, str, str, str]]:
    return [(i["bucket"], i["org"], i["gpu_type"], i["runs"], i["gpu_hours"], i["points"], i["charged"])
            for i in doc["items"]]


def test_without_a_tariff_gpu_hours_come_from_the_runs(bare: World) -> None:
    doc = _series(bare, "admin", "bucket=day&from=2023-11-14&to=2023-11-17")
    h100 = "H100-80GB"
    assert _full(doc) == [
        ("2023-11-14", "alpha", h100, 1, "2.0000", "0.0000", "0.0000"),  # A: 2 GPUs × 23:00-24:00
        ("2023-11-15", "alpha", h100, 2, "4.0000", "0.0000", "0.0000"),  # A: 2 × 1 h; C: 1 × 2 h
        ("2023-11-15", "beta", h100, 2, "2.5000", "0.0000", "0.0000"),  # B: two runs, 1 h + 1.5 h, not the gap
        ("2023-11-16", "alpha", h100, 1, "3.0000", "0.0000", "0.0000"),  # C: 00:00 → now (03:00)
    ]
    month = _series(bare, "admin", "bucket=month&to=2023-11-17")
    # alpha: 2 + 4 + 3 GPU-h from two runs (A, C; a run split across days counts once in a month)
    assert _full(month) == [("2023-11", "alpha", h100, 2, "9.0000", "0.0000", "0.0000"),
                            ("2023-11", "beta", h100, 2, "2.5000", "0.0000", "0.0000")]
    # A range starting inside runs: A began before the 15th (its start event is read separately) and C has no
    # event at all since the 16th (it is running): both counted from the range's first bucket only.
    assert _items(_series(bare, "admin", "bucket=day&from=2023-11-15T12:00&to=2023-11-16")) == [
        ("2023-11-15", "alpha", "4.0000", "0.0000"), ("2023-11-15", "beta", "2.5000", "0.0000")]
    assert _items(_series(bare, "admin", "bucket=day&from=2023-11-16")) == [("2023-11-16", "alpha", "3.0000", "0.0000")]
    # a range of only the 14th: A's 23:00-24:00, nothing of what followed
    assert _items(_series(bare, "admin", "bucket=day&from=2023-11-14&to=2023-11-15")) == [
        ("2023-11-14", "alpha", "2.0000", "0.0000")]
    # project filter: every job is in "default"
    assert _series(bare, "admin", "bucket=day&from=2023-11-14&project=nope")["items"] == []

    # later, C still running: counted up to the clock
    bare.clock.now = NOW + 2 * H
    assert _items(_series(bare, "admin", "bucket=day&from=2023-11-16")) == [("2023-11-16", "alpha", "5.0000", "0.0000")]


def test_without_a_tariff_tenancy_is_unchanged(bare: World) -> None:
    query = "bucket=day&from=2023-11-14&to=2023-11-17"
    for user in ("alice", "alpha-admin", "amy"):
        assert {i["org"] for i in _series(bare, user, query)["items"]} == {"alpha"}
        assert len(_series(bare, user, query)["items"]) == 3
    assert _items(_series(bare, "bob", query)) == [("2023-11-15", "beta", "2.5000", "0.0000")]
    assert bare.call("alice", "GET", f"/api/v1/usage/series?{query}&org=beta").status_code == 404
    assert bare.call("bob", "GET", f"/api/v1/usage/series?{query}&org=alpha").status_code == 404
    assert _items(_series(bare, "bob", f"{query}&org=beta")) == [("2023-11-15", "beta", "2.5000", "0.0000")]
    assert _items(_series(bare, "admin", f"{query}&org=beta")) == [("2023-11-15", "beta", "2.5000", "0.0000")]


def test_a_requeued_job_keeps_its_runs(bare: World) -> None:
    # E (bob, 1 GPU) runs 08:00 → 09:00 on the 15th, is preempted and stays pending: its run counts, under the
    # GPU type of that run (kept on the requeued job).
    bare.clock.now = MIDNIGHT + 7 * H  # submitted before it ran
    e = int(bare.submit("bob", num_gpus=1, walltime="4h")["id"])
    bare.clock.now = NOW
    _move(bare, e, MIDNIGHT + 8 * H, JobState.ADMITTED, JobState.RUNNING, JobState.PREEMPTING)
    _move(bare, e, MIDNIGHT + 9 * H, JobState.PENDING)
    doc = _series(bare, "bob", "bucket=day&from=2023-11-15&to=2023-11-16")
    assert _full(doc) == [("2023-11-15", "beta", "H100-80GB", 3, "3.5000", "0.0000", "0.0000")]
