"""Trace readers: the real Philly and Alibaba files, and synthetic good and bad files of each format."""

from __future__ import annotations

import csv
import math
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from real_traces import NODES, PHILLY, PODS

from gpucloud.errors import InputError, UnknownNameError
from gpucloud.sim.traces import (
    ALIBABA_GPU_TYPES,
    Trace,
    TraceError,
    alibaba_cluster,
    detect_format,
    read_alibaba,
    read_csv_trace,
    read_philly,
    read_trace,
)

real = pytest.mark.usefixtures("real_traces")

PHILLY_HEADER = "timestamp,duration,num_gpus,gpu_time,cluster"
POD_HEADER = ("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
              "scheduled_time")
NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model"


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def assert_sorted_from_zero(trace: Trace) -> None:
    times = [j.spec.submit_time for j in trace.jobs]
    assert times[0] == 0.0
    assert times == sorted(times)


# --- the real Philly trace ----------------------------------------------------------------------------------


@real
def test_real_philly() -> None:
    trace = read_trace(PHILLY)
    assert trace.fmt == "philly"
    assert len(trace.jobs) == 82_247
    assert len(trace.orgs) == 15
    assert trace.orgs[0] == "11cb48"  # the cluster of the first row
    assert trace.skipped == {}
    assert_sorted_from_zero(trace)
    assert {j.spec.num_gpus for j in trace.jobs} == {1, 2, 4, 8, 12, 16, 24, 32, 64, 128}
    assert len({j.spec.id for j in trace.jobs}) == 82_247
    span = (datetime(2017, 12, 22, 8, 2, 11) - datetime(2017, 9, 4, 10, 30, 41)).total_seconds()
    assert trace.jobs[-1].spec.submit_time == span
    assert all(j.spec.walltime == max(60.0, 2.0 * j.duration) for j in trace.jobs)
    assert all(j.spec.gpu_type is None for j in trace.jobs)
    # Independent check against the file: GPU-time totals, the first row, and the size histogram.
    with PHILLY.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["timestamp"]]
    assert math.isclose(trace.total_gpu_seconds, sum(float(r["gpu_time"]) for r in rows))
    assert Counter(j.spec.num_gpus for j in trace.jobs) == Counter(int(r["num_gpus"]) for r in rows)
    first = next(j for j in trace.jobs if j.spec.id == "philly-2")
    assert (first.spec.org, first.spec.num_gpus, first.duration) == ("11cb48", 1, 66.0)
    assert first.spec.walltime == 132.0


@real
def test_real_philly_walltime_factor() -> None:
    trace = read_philly(PHILLY, walltime_factor=1.0)
    assert all(j.spec.walltime == max(60.0, j.duration) for j in trace.jobs)


# --- the real Alibaba trace ---------------------------------------------------------------------------------


@real
def test_real_alibaba_pods() -> None:
    trace = read_trace(PODS)
    assert trace.fmt == "alibaba"
    # 8,152 pods: 1,088 ask for no GPU, 861 GPU pods were never scheduled (still pending at the end).
    assert trace.skipped == {"cpu_only": 1088, "never_scheduled": 861}
    assert len(trace.jobs) == 8152 - 1088 - 861 == 6203
    assert trace.adjusted == {"fractional_gpu_rounded_up": 3078}
    assert trace.orgs == ["LS", "Burstable", "BE", "Guaranteed"]
    assert_sorted_from_zero(trace)
    assert {j.spec.num_gpus for j in trace.jobs} == {1, 2, 4, 8}
    assert all(j.spec.gpu_type is None for j in trace.jobs)  # gpu_spec is empty in the whole file
    assert all(j.duration > 0 for j in trace.jobs)
    assert trace.jobs[0].spec.id == "openb-pod-0000"
    assert trace.jobs[0].duration == 12_537_496


@real
def test_real_alibaba_nodes() -> None:
    cluster = alibaba_cluster(NODES)
    assert len(cluster.nodes) == 1213
    assert cluster.total_gpus == 6212
    assert cluster.gpus_by_type == {
        "G2": 4392, "T4": 842, "P100": 265, "V100M16": 195, "G3": 312, "V100M32": 204, "A10": 2,
    }
    assert [b.name for b in cluster.blocks] == list(ALIBABA_GPU_TYPES)
    # Racks of at most 8 nodes of one model: ceil(549/8) + ceil(404/8) + ... = 154.
    assert len(cluster.racks) == 69 + 51 + 17 + 7 + 5 + 4 + 1
    for rack_nodes in cluster.nodes_by_rack:
        assert 1 <= len(rack_nodes) <= 8
        assert len({cluster.nodes[i].gpu_type for i in rack_nodes}) == 1
    assert cluster.gpu_types["P100"].speed == 1.0
    assert cluster.node_by_name("openb-node-0000").gpu_type == "P100"
    assert [n.index for n in cluster.nodes] == list(range(1213))


# --- Philly, synthetic --------------------------------------------------------------------------------------


def test_philly_synthetic(tmp_path: Path) -> None:
    p = write(
        tmp_path, "philly.csv", PHILLY_HEADER,
        "2017-10-01 00:01:00,100.0,2,200.0,vcB",
        "2017-10-01 00:00:00,0.0,1,0.0,vcA",
        "2017-10-01 00:01:00,20.0,1,20.0,vcA",
        "",
    )
    trace = read_philly(p)
    assert [j.spec.id for j in trace.jobs] == ["philly-3", "philly-2", "philly-4"]  # ties keep file order
    assert [j.spec.submit_time for j in trace.jobs] == [0.0, 60.0, 60.0]
    assert trace.orgs == ["vcB", "vcA"]
    zero = trace.jobs[0]
    assert zero.duration == 0.0 and zero.spec.walltime == 60.0  # a 0-s job is kept; walltime stays >= 60
    assert trace.jobs[1].spec.walltime == 200.0
    assert trace.jobs[1].spec.num_gpus == 2
    assert trace.source == str(p)


def test_philly_columns_in_any_order(tmp_path: Path) -> None:
    p = write(tmp_path, "philly.csv", "cluster,num_gpus,duration,gpu_time,timestamp",
              "vc,4,10,40,2017-10-01 00:00:00")
    job = read_trace(p).jobs[0]
    assert (job.spec.org, job.spec.num_gpus, job.duration) == ("vc", 4, 10.0)


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        ("2017-10-01,10,1,10,vc", "timestamp", "YYYY-MM-DD HH:MM:SS"),
        ("2017-13-01 00:00:00,10,1,10,vc", "timestamp", "'2017-13-01 00:00:00'"),
        ("2017-10-01 00:00:00,abc,1,10,vc", "duration", "must be a number (got 'abc')"),
        ("2017-10-01 00:00:00,-5,1,10,vc", "duration", "must not be negative"),
        ("2017-10-01 00:00:00,nan,1,10,vc", "duration", "finite"),
        ("2017-10-01 00:00:00,10,abc,10,vc", "num_gpus", "must be a positive integer (got 'abc')"),
        ("2017-10-01 00:00:00,10,0,10,vc", "num_gpus", "positive integer"),
        ("2017-10-01 00:00:00,10,1.5,10,vc", "num_gpus", "positive integer"),
        ("2017-10-01 00:00:00,10,1,x,vc", "gpu_time", "number"),
        ("2017-10-01 00:00:00,10,1,10,", "cluster", "must not be empty"),
        ("2017-10-01 00:00:00,10,1,10", "cluster", "the row has 4 fields, the header has 5"),
        ("2017-10-01 00:00:00,10,1,10,vc,extra", "#6", "extra field"),
    ],
)
def test_philly_bad_rows(tmp_path: Path, row: str, column: str, fragment: str) -> None:
    p = write(tmp_path, "philly.csv", PHILLY_HEADER, "2017-10-01 00:00:00,10,1,10,vc", row)
    with pytest.raises(TraceError) as info:
        read_philly(p)
    msg = str(info.value)
    assert f"philly.csv:3: column {column}: " in msg
    assert fragment in msg
    assert (info.value.line, info.value.column) == (3, column)
    assert isinstance(info.value, InputError)


def test_philly_missing_column(tmp_path: Path) -> None:
    p = write(tmp_path, "philly.csv", "timestamp,duration,num_gpus,cluster", "2017-10-01 00:00:00,1,1,vc")
    with pytest.raises(TraceError, match=r"philly\.csv:1: column gpu_time: missing from the header"):
        read_philly(p)


# --- Alibaba, synthetic -------------------------------------------------------------------------------------


def pod(name: str, num_gpu: str = "1", milli: str = "1000", spec: str = "", qos: str = "LS",
        create: str = "100", delete: str = "500", sched: str = "200") -> str:
    return f"{name},4000,8192,{num_gpu},{milli},{spec},{qos},Running,{create},{delete},{sched}"


def test_alibaba_synthetic(tmp_path: Path) -> None:
    p = write(
        tmp_path, "pods.csv", POD_HEADER,
        pod("a", create="100", sched="150", delete="1150"),
        pod("cpu", num_gpu="0", milli="0"),
        pod("frac", milli="460", qos="BE", create="200", sched="200", delete="230"),
        pod("pending", sched=""),
        pod("nodel", delete=""),
        pod("nocreate", create=""),
        pod("backwards", sched="600", delete="500"),
        pod("typed", num_gpu="8", spec="V100M32", qos="", create="300"),
        pod("several", spec="V100M16|V100M32", create="400"),
    )
    trace = read_alibaba(p)
    assert [j.spec.id for j in trace.jobs] == ["a", "frac", "typed", "several"]
    assert trace.skipped == {"cpu_only": 1, "never_scheduled": 1, "no_deletion_time": 1, "no_creation_time": 1,
                             "negative_duration": 1}
    assert trace.adjusted == {"fractional_gpu_rounded_up": 1, "gpu_spec_several_models": 1}
    assert trace.orgs == ["LS", "BE", "default"]
    a, frac, typed, several = trace.jobs
    assert (a.spec.submit_time, a.duration, a.spec.walltime) == (0.0, 1000.0, 2000.0)
    assert (frac.spec.submit_time, frac.spec.num_gpus, frac.duration, frac.spec.walltime) == (100.0, 1, 30.0, 60.0)
    assert (typed.spec.gpu_type, typed.spec.num_gpus, typed.spec.org) == ("V100M32", 8, "default")
    assert several.spec.gpu_type is None


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        (pod("x", num_gpu="two"), "num_gpu", "non-negative integer (got 'two')"),
        (pod("x", num_gpu="-1"), "num_gpu", "non-negative integer"),
        (pod("x", milli="1500"), "gpu_milli", "1..1000"),
        (pod("x", milli="0"), "gpu_milli", "1..1000"),
        (pod("x", spec="V100"), "gpu_spec", "did you mean"),
        (pod("x", create="abc"), "creation_time", "must be a number"),
        (pod("x", create="-10"), "creation_time", "must not be negative"),
        (pod("x", sched="soon"), "scheduled_time", "must be a number"),
        (pod("x", delete="inf"), "deletion_time", "finite"),
        (pod("first"), "name", "duplicate pod name (first on line 2)"),
        (pod(""), "name", "must not be empty"),
    ],
)
def test_alibaba_bad_rows(tmp_path: Path, row: str, column: str, fragment: str) -> None:
    p = write(tmp_path, "pods.csv", POD_HEADER, pod("first"), row)
    with pytest.raises(TraceError) as info:
        read_alibaba(p)
    msg = str(info.value)
    assert f"pods.csv:3: column {column}: " in msg
    assert fragment in msg


def test_alibaba_cluster_synthetic(tmp_path: Path) -> None:
    p = write(
        tmp_path, "nodes.csv", NODE_HEADER,
        "n0,1,1,8,G2", "n1,1,1,8,G2", "n2,1,1,8,G2", "t0,1,1,2,T4", "cpu,1,1,0,", "t1,1,1,4,T4",
    )
    cluster = alibaba_cluster(p, rack_nodes=2)
    assert [n.name for n in cluster.nodes] == ["n0", "n1", "n2", "t0", "t1"]
    assert [r.name for r in cluster.racks] == ["G2-r000", "G2-r001", "T4-r000"]
    assert cluster.nodes_by_rack == ((0, 1), (2,), (3, 4))
    assert [b.name for b in cluster.blocks] == ["G2", "T4"]
    assert set(cluster.gpu_types) == {"G2", "T4"}
    assert cluster.total_gpus == 30


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        ("x,1,1,8,H100", "model", "unknown GPU model 'H100'"),
        ("x,1,1,eight,G2", "gpu", "integer"),
        ("n0,1,1,8,G2", "sn", "duplicate node name"),
    ],
)
def test_alibaba_cluster_bad_rows(tmp_path: Path, row: str, column: str, fragment: str) -> None:
    p = write(tmp_path, "nodes.csv", NODE_HEADER, "n0,1,1,8,G2", row)
    with pytest.raises(TraceError) as info:
        alibaba_cluster(p)
    assert f"nodes.csv:3: column {column}: " in str(info.value)
    assert fragment in str(info.value)


# --- generic CSV --------------------------------------------------------------------------------------------

CSV_HEADER = "job_id,submit_time,duration,num_gpus,org,gpu_type,walltime,priority,preemptible"


def test_csv_synthetic(tmp_path: Path) -> None:
    p = write(
        tmp_path, "jobs.csv", CSV_HEADER,
        "train,500,3600,16,uni-a,H100-80GB,7200,5,false",
        "eval,100,10,1,,,,,",
        "svc,100,600,2,lab,,,-1,YES",
    )
    trace = read_trace(p, walltime_factor=3.0)
    assert trace.fmt == "csv"
    assert [j.spec.id for j in trace.jobs] == ["eval", "svc", "train"]
    assert trace.orgs == ["uni-a", "default", "lab"]
    ev, svc, train = trace.jobs
    assert (ev.spec.org, ev.spec.gpu_type, ev.spec.walltime, ev.spec.priority, ev.spec.preemptible) == (
        "default", None, 60.0, 0, True)
    assert (svc.spec.walltime, svc.spec.priority, svc.spec.preemptible) == (1800.0, -1, True)
    assert (train.spec.submit_time, train.spec.gpu_type, train.spec.walltime, train.spec.priority,
            train.spec.preemptible, train.duration) == (400.0, "H100-80GB", 7200.0, 5, False, 3600.0)


def test_csv_required_columns_only(tmp_path: Path) -> None:
    p = write(tmp_path, "jobs.csv", "num_gpus,duration,submit_time,job_id", "8,100,0,j1")
    job = read_csv_trace(p).jobs[0]
    assert (job.spec.id, job.spec.num_gpus, job.spec.org, job.spec.walltime) == ("j1", 8, "default", 200.0)


def test_csv_nodes_and_grace(tmp_path: Path) -> None:
    p = write(tmp_path, "jobs.csv", "job_id,submit_time,duration,num_gpus,nodes,grace", "j,0,10,16,4,30")
    spec = read_csv_trace(p).jobs[0].spec
    assert (spec.nodes, spec.grace) == (4, 30.0)


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        ("a,5,10,1,o,,,,", "job_id", "duplicate job id (first on line 2) (got 'a')"),
        (",5,10,1,o,,,,", "job_id", "must not be empty"),
        ("b,-5,10,1,o,,,,", "submit_time", "must not be negative"),
        ("b,x,10,1,o,,,,", "submit_time", "must be a number"),
        ("b,5,-1,1,o,,,,", "duration", "must not be negative"),
        ("b,5,10,0,o,,,,", "num_gpus", "positive integer"),
        ("b,5,10,1,o,,0,,", "walltime", "positive"),
        ("b,5,10,1,o,,-3,,", "walltime", "must not be negative"),
        ("b,5,10,1,o,,,high,", "priority", "integer"),
        ("b,5,10,1,o,,,,maybe", "preemptible", "true/false"),
        ("b,5,10,1,o,,,", "preemptible", "the row has 8 fields, the header has 9"),
    ],
)
def test_csv_bad_rows(tmp_path: Path, row: str, column: str, fragment: str) -> None:
    p = write(tmp_path, "jobs.csv", CSV_HEADER, "a,0,10,1,o,,,,", row)
    with pytest.raises(TraceError) as info:
        read_csv_trace(p)
    msg = str(info.value)
    assert f"jobs.csv:3: column {column}: " in msg
    assert fragment in msg


def test_csv_jobspec_error_names_line(tmp_path: Path) -> None:
    # nodes must divide num_gpus: JobSpec raises, the reader re-raises with file and line.
    p = write(tmp_path, "jobs.csv", "job_id,submit_time,duration,num_gpus,nodes", "a,0,1,8,2", "b,0,1,6,4")
    with pytest.raises(TraceError, match=r"jobs\.csv:3: column nodes: .*divide num_gpus=6.*\(got 4\)"):
        read_csv_trace(p)


def test_csv_unknown_column(tmp_path: Path) -> None:
    p = write(tmp_path, "jobs.csv", "job_id,submit_time,duration,num_gpus,colour", "a,0,1,1,red")
    with pytest.raises(TraceError, match=r"jobs\.csv:1: column colour: unknown column"):
        read_csv_trace(p)


def test_csv_missing_column(tmp_path: Path) -> None:
    p = write(tmp_path, "jobs.csv", "job_id,submit_time,num_gpus", "a,0,1")
    with pytest.raises(TraceError, match=r"jobs\.csv:1: column duration: missing from the header"):
        read_csv_trace(p)


# --- read_trace ---------------------------------------------------------------------------------------------


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(write(tmp_path, "a.csv", PHILLY_HEADER)) == "philly"
    assert detect_format(write(tmp_path, "b.csv", POD_HEADER)) == "alibaba"
    assert detect_format(write(tmp_path, "c.csv", "job_id,submit_time,duration,num_gpus")) == "csv"


def test_header_only_is_an_empty_trace(tmp_path: Path) -> None:
    trace = read_trace(write(tmp_path, "a.csv", PHILLY_HEADER, ""))
    assert (trace.jobs, trace.orgs) == ([], [])


def test_unknown_format_did_you_mean(tmp_path: Path) -> None:
    p = write(tmp_path, "a.csv", PHILLY_HEADER)
    with pytest.raises(UnknownNameError, match="did you mean 'philly'"):
        read_trace(p, "phily")


def test_undetectable_header(tmp_path: Path) -> None:
    p = write(tmp_path, "weird.csv", "a,b,c", "1,2,3")
    with pytest.raises(TraceError, match=r"weird\.csv:1: header: cannot tell the trace format"):
        read_trace(p)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(TraceError, match=r"empty\.csv:1: header: file is empty"):
        read_trace(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"nope\.csv: file: cannot read"):
        read_trace(tmp_path / "nope.csv")


def test_bad_walltime_factor(tmp_path: Path) -> None:
    p = write(tmp_path, "a.csv", PHILLY_HEADER)
    with pytest.raises(InputError, match="walltime_factor: must be a positive number"):
        read_trace(p, walltime_factor=0)


def test_explicit_format_wrong_header(tmp_path: Path) -> None:
    p = write(tmp_path, "jobs.csv", "job_id,submit_time,duration,num_gpus", "a,0,1,1")
    with pytest.raises(TraceError, match=r"jobs\.csv:1: column timestamp: missing from the header"):
        read_trace(p, "philly")


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "philly.csv"
    p.write_bytes(PHILLY_HEADER.encode() + b"\n2017-10-01 00:00:00,1,1,1,v\xe9\n")
    with pytest.raises(TraceError, match=r"philly\.csv: file: not UTF-8 text"):
        read_trace(p)


def test_csv_quoted_fields_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "jobs.csv"
    p.write_text('\ufeffjob_id,submit_time,duration,num_gpus,org\n"a,1",0,5,1,"Uni, Inc"\n')
    job = read_trace(p).jobs[0]
    assert (job.spec.id, job.spec.org) == ("a,1", "Uni, Inc")


def test_not_utf8_late_in_a_big_file(tmp_path: Path) -> None:
    p = tmp_path / "philly.csv"
    body = "".join(f"2017-10-01 00:00:00,1,1,1,vc{i}\n" for i in range(2000))
    p.write_bytes((PHILLY_HEADER + "\n" + body).encode() + b"2017-10-01 00:00:00,1,1,1,v\xe9\n")
    with pytest.raises(TraceError, match=r"philly\.csv: file: not UTF-8 text"):
        read_trace(p)


def test_missing_real_traces_skip_or_fail_as_ci_asks(tmp_path: Path) -> None:
    from real_traces import REQUIRE, require

    here, gone = tmp_path / "here.csv", tmp_path / "gone.csv"
    here.write_text("x\n")
    require([here], {REQUIRE: "1"})  # all there: nothing happens
    with pytest.raises(pytest.skip.Exception):
        require([here, gone], {})
    with pytest.raises(pytest.fail.Exception, match=r"gone\.csv"):
        require([here, gone], {REQUIRE: "1"})
