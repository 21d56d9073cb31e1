"""Job arrays and dependencies in the simulator: a planner's CSV trace with ``array``, ``dependency`` and ``name``
columns, replayed with the core's rules — the throttle, every dependency kind, whole-array and singleton
dependencies, jobs whose dependency can never be met ended (and those after them), and a start that releases an
``after`` job in the same moment."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpucloud.model.cluster_file import parse_inline
from gpucloud.sim.engine import SimConfig, simulate
from gpucloud.sim.records import JobRecord
from gpucloud.sim.traces import TraceError, read_trace

HEADER = "job_id,submit_time,duration,num_gpus,walltime,name,array,dependency\n"


def replay(tmp_path: Path, rows: str, cluster: str = "1x8", policy: str = "fifo",
           config: SimConfig | None = None) -> dict[str, JobRecord]:
    path = tmp_path / "trace.csv"
    path.write_text(HEADER + rows)
    trace = read_trace(path)
    result = simulate(parse_inline(cluster), trace.jobs, policy, config=config)
    return {r.job_id: r for r in result.jobs}


def starts(records: dict[str, JobRecord]) -> dict[str, float | None]:
    return {jid: r.start_time for jid, r in records.items()}


@pytest.mark.parametrize("policy", ["fifo", "backfill", "fairshare", "las", "srtf"])
def test_an_arrays_throttle_under_every_policy(tmp_path: Path, policy: str) -> None:
    records = replay(tmp_path, "sweep,0,100,1,200,,0-5%2,\n", policy=policy)
    assert list(records) == [f"sweep_{i}" for i in range(6)]
    assert starts(records) == {"sweep_0": 0, "sweep_1": 0, "sweep_2": 100, "sweep_3": 100, "sweep_4": 200,
                               "sweep_5": 200}  # 8 GPUs free, 2 at a time, in index order
    assert {r.state for r in records.values()} == {"succeeded"}


def test_dependencies_of_every_kind(tmp_path: Path) -> None:
    records = replay(tmp_path, "\n".join([
        "prep,0,50,1,100,,,",
        "slow,0,500,1,100,,,",              # times out at 100 (+0 grace)
        "train,0,10,1,60,,,afterok:prep",
        "after-slow,0,10,1,60,,,afterok:slow",
        "on-failure,0,10,1,60,,,afternotok:slow",
        "anyway,0,10,1,60,,,afterany:slow",
        "then,0,10,1,60,,,afterok:after-slow",
        "started,0,10,1,60,,,after:slow",
        "either,0,10,1,60,,,afterok:slow?afterok:prep",
    ]) + "\n")
    assert records["slow"].state == "timed_out" and records["slow"].end_time == 100
    assert starts(records)["train"] == 50 and starts(records)["either"] == 50
    assert starts(records)["on-failure"] == 100 and starts(records)["anyway"] == 100
    assert starts(records)["started"] == 0
    for never in ("after-slow", "then"):  # never met, and the job after it too
        assert records[never].state == "cancelled" and records[never].start_time is None


def test_a_whole_array_and_a_task(tmp_path: Path) -> None:
    records = replay(tmp_path, "\n".join([
        "sweep,0,100,2,200,,0-3,",            # 4 × 2 GPUs on 6: three, then the fourth
        "collect,0,10,1,60,,,afterok:sweep",
        "first,0,10,1,60,,,afterany:sweep_0",
    ]) + "\n", cluster="1x6")
    assert starts(records)["collect"] == 200 and starts(records)["first"] == 100


def test_singleton_runs_one_at_a_time(tmp_path: Path) -> None:
    records = replay(tmp_path, "\n".join(f"n{i},{i},100,1,200,nightly,,singleton" for i in range(3)) +
                     "\nother,0,100,1,200,weekly,,singleton\n")
    assert starts(records) == {"n0": 0, "n1": 100, "n2": 200, "other": 0}


def test_replays_are_the_same_with_a_rebuilt_driver(tmp_path: Path) -> None:
    rows = ("a,0,100,2,300,,0-7%3,\nb,10,50,4,100,,,afterany:a\nc,20,30,8,100,x,,singleton\n"
            "d,20,30,8,100,x,,singleton\n")
    lived = replay(tmp_path, rows, policy="backfill")
    rebuilt = replay(tmp_path, rows, policy="backfill", config=SimConfig(rebuild_every_cycle=True))
    assert [(r.job_id, r.start_time, r.end_time, r.state) for r in lived.values()] == \
        [(r.job_id, r.start_time, r.end_time, r.state) for r in rebuilt.values()]


@pytest.mark.parametrize(("row", "column", "words"), [
    ("a,0,10,1,60,,0-3%0,", "array", "throttle"),
    ("a,0,10,1,60,,,afterok:nobody", "dependency", "names no job or array of this trace"),
    ("a,0,10,1,60,,,afterok", "dependency", "afterok needs job ids"),
    ("a,0,10,1,60,,,before:b", "dependency", "unknown kind 'before'"),
])
def test_bad_columns_name_the_line_and_column(tmp_path: Path, row: str, column: str, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "b,0,10,1,60,,,\n" + row + "\n")
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == 3 and info.value.column == column and words in str(info.value)
