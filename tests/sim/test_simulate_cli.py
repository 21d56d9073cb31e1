"""``gpucloud simulate`` end to end through Typer's CliRunner: files written, tables printed, errors as one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from real_traces import PHILLY
from typer.testing import CliRunner

from gpucloud.cli.main import app
from gpucloud.core.policies import POLICIES
from gpucloud.sim.output import ALLOCATION_COLUMNS, JOBS_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
PHILLY_CLUSTER = ROOT / "examples" / "clusters" / "philly.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: 8 jobs for a 2 × 4-GPU cluster; the 8-GPU job takes both nodes.
JOBS = [
    ("j1", 0, 600, 4, "uni-a"),
    ("j2", 10, 300, 2, "uni-b"),
    ("j3", 20, 1200, 8, "uni-a"),
    ("j4", 30, 60, 1, "lab-c"),
    ("j5", 40, 900, 2, "uni-b"),
    ("j6", 50, 0, 1, "lab-c"),
    ("j7", 3600, 100, 3, "uni-a"),
    ("j8", 3700, 7200, 4, "uni-b"),
]
GPUS = {j[0]: j[3] for j in JOBS}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    p = tmp_path / "trace.csv"
    lines = ["job_id,submit_time,duration,num_gpus,org"] + [",".join(map(str, j)) for j in JOBS]
    p.write_text("\n".join(lines) + "\n")
    return p


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_two_policies_write_files(trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run("--cluster", "2x4", "--trace", str(trace), "--policy", "fifo,backfill",
                               "--out", str(out))
    assert code == 0, stderr
    assert "fifo" in stdout and "backfill" in stdout and "wait p99" in stdout
    for policy in ("fifo", "backfill"):
        d = out / policy
        header, rows = read_rows(d / "jobs.csv")
        assert header == list(JOBS_COLUMNS)
        assert len(rows) == len(JOBS)
        assert all(r[4] != "" and r[5] != "" for r in rows)  # every job started and ended
        header, allocs = read_rows(d / "allocations.csv")
        assert header == list(ALLOCATION_COLUMNS)
        assert len(allocs) == len(JOBS)  # no preemption without priorities: one run each
        for job_id, _start, _end, gpus in allocs:
            labels = gpus.split(" ")
            assert len(labels) == GPUS[job_id]
            assert len(set(labels)) == len(labels) and all("/" in lab for lab in labels)
        summary = json.loads((d / "summary.json").read_text())
        assert summary["policy"] == policy
        assert summary["jobs"] == len(JOBS)
        assert {"wait", "jct", "makespan", "utilisation", "orgs", "jain_fairness", "preemptions", "timed_out",
                "wall_time", "gpu_hours"} <= set(summary)
        assert set(summary["wait"]) == {"avg", "median", "p95", "p99"}
        assert set(summary["orgs"]) == {"uni-a", "uni-b", "lab-c"}
        assert set(summary["orgs"]["uni-a"]) >= {"gpu_hours", "share", "avg_wait"}
        assert (d / "utilisation.png").read_bytes()[:8] == PNG_MAGIC
    for name in ("wait_cdf.png", "jct_cdf.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC


def test_one_policy_writes_into_out(trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "one"
    code, _, stderr = run("--cluster", "2x4", "--trace", str(trace), "--policy", "srtf", "--out", str(out))
    assert code == 0, stderr
    for name in ("jobs.csv", "allocations.csv", "summary.json", "utilisation.png", "wait_cdf.png",
                 "jct_cdf.png"):
        assert (out / name).is_file(), name
    assert not (out / "srtf").exists()


def test_limit_takes_first_jobs(trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "lim"
    code, stdout, _ = run("--cluster", "2x4", "--trace", str(trace), "--limit", "3", "--out", str(out))
    assert code == 0
    _, rows = read_rows(out / "jobs.csv")
    assert [r[0] for r in rows] == ["j1", "j2", "j3"]
    assert "3 jobs" in stdout


def assert_one_error_line(code: int, stderr: str) -> str:
    assert code == 2
    assert "Traceback" not in stderr
    line = stderr.strip()
    assert "\n" not in line and line.startswith("error: ")
    return line


def test_unknown_policy(trace: Path) -> None:
    code, _, stderr = run("--cluster", "2x4", "--trace", str(trace), "--policy", "fifo,backfil")
    line = assert_one_error_line(code, stderr)
    assert "did you mean 'backfill'" in line


def test_bad_trace_row_names_file_and_line(trace: Path) -> None:
    lines = trace.read_text().splitlines()
    lines[3] = "j3,20,1200,eight,uni-a"  # line 4 of the file
    trace.write_text("\n".join(lines) + "\n")
    code, _, stderr = run("--cluster", "2x4", "--trace", str(trace), "--policy", "fifo")
    line = assert_one_error_line(code, stderr)
    assert f"{trace}:4" in line and "num_gpus" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--cluster", "2x4", "--trace", "no/such/trace.csv"], "no/such/trace.csv"),
        (["--cluster", "missing.yaml", "--trace", "TRACE"], "missing.yaml"),
        (["--cluster", "2x4", "--trace", "TRACE", "--orgs", "missing-orgs.yaml"], "missing-orgs.yaml"),
        (["--trace", "TRACE"], "--cluster"),
        (["--cluster", "2x4", "--trace", "TRACE", "--format", "phily"], "did you mean 'philly'"),
        (["--cluster", "2x4", "--trace", "TRACE", "--limit", "0"], "--limit"),
        (["--cluster", "1x4", "--trace", "TRACE"], "num_gpus"),  # the 8-GPU job cannot fit
    ],
)
def test_bad_input_is_one_line(trace: Path, args: list[str], expected: str) -> None:
    code, _, stderr = run(*[str(trace) if a == "TRACE" else a for a in args])
    line = assert_one_error_line(code, stderr)
    assert expected in line


def test_alibaba_cluster_from_node_list(tmp_path: Path) -> None:
    (tmp_path / "alibaba2023_gpu_nodes.csv").write_text(
        "sn,cpu_milli,memory_mib,gpu,model\nn0,96000,786432,8,V100M16\nn1,96000,786432,8,V100M16\n")
    pods = tmp_path / "pods.csv"
    pods.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
        "scheduled_time\n"
        "p0,1000,1024,1,1000,,LS,Succeeded,0,500,10\n"
        "p1,1000,1024,8,1000,,BE,Succeeded,5,900,20\n"
        "p2,1000,1024,1,500,,BE,Succeeded,7,100,30\n")
    out = tmp_path / "ali"
    code, stdout, stderr = run("--trace", str(pods), "--policy", "fifo,las", "--out", str(out))
    assert code == 0, stderr
    assert "16 GPUs" in stdout
    _, rows = read_rows(out / "las" / "jobs.csv")
    assert len(rows) == 3


@pytest.mark.slow
@pytest.mark.usefixtures("real_traces")
def test_philly_every_policy(tmp_path: Path) -> None:
    names = POLICIES.names()
    code, stdout, stderr = run("--cluster", str(PHILLY_CLUSTER), "--trace", str(PHILLY), "--limit", "2000",
                               "--policy", ",".join(names), "--out", str(tmp_path / "philly"))
    assert code == 0, stderr
    assert "2,000 jobs" in stdout
    for name in names:
        summary = json.loads((tmp_path / "philly" / name / "summary.json").read_text())
        assert summary["jobs"] == summary["finished"] == 2000
        assert 0 < summary["utilisation"] <= 1
