"""Capacity planning (``gpucloud.sim.plan``, ``gpucloud plan``): objectives, candidate clusters, and the search
on a tiny trace whose answer is worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpucloud.cli.main import app
from gpucloud.errors import InputError
from gpucloud.model.job import JobSpec
from gpucloud.sim.plan import Option, grown, options_for, parse_objective, plan
from gpucloud.sim.traces.base import TraceJob

#: eight 1-GPU jobs of 1,000 s, all at 0: on n one-GPU nodes they start in waves of n, 1,000 s apart
JOBS = [TraceJob(JobSpec(f"j{i}", "a" if i < 4 else "b", 1, 0.0, 2000.0), 1000.0) for i in range(8)]


def test_objectives_parse_and_bad_ones_name_the_field() -> None:
    o = parse_objective("p95<1h")
    assert (o.statistic, o.limit, o.per_org) == ("p95", 3600.0, False)
    assert parse_objective(" org-median < 10m").statistic == "p50" and parse_objective("org-median<10m").per_org
    assert parse_objective("mean<30s").value([10.0, 20.0, 60.0], ["a", "a", "b"]) == 30.0
    # the worst org's median: a's waits 0, 0, 10 (median 0); b's 100, 300 (median, the lower middle: 100)
    assert parse_objective("org-median<1m").value([0, 0, 10, 100, 300], list("aaabb")) == 100
    for bad in ("p95", "p100<1h", "p95<soon", "max<1h", "p95<0s"):
        with pytest.raises(InputError) as e:
            parse_objective(bad)
        assert e.value.field == "objective"


def test_candidates_mix_types_in_equal_parts() -> None:
    c = Option(("H100-80GB", "B200-180GB"), 8).cluster(5)
    assert c.gpus_by_type == {"H100-80GB": 24, "B200-180GB": 16}
    assert c.gpu_types["B200-180GB"].speed > 1
    assert [o.name for o in options_for(["H100", "B200"], 8)] == ["H100-80GB", "B200-180GB",
                                                                  "H100-80GB + B200-180GB"]
    with pytest.raises(InputError, match="types"):
        options_for(["Z9"], 8)
    assert grown(JOBS[:1], 2.0)[0].spec.submit_time == 0.0
    with pytest.raises(InputError, match="growth"):
        grown(JOBS, 0.0)


def test_the_search_finds_the_smallest_cluster_worked_out_by_hand() -> None:
    """The longest wait is (⌈8 / n⌉ − 1) × 1,000 s. p95 of 8 waits is the largest: below 1,500 s needs at most two
    waves, n ≥ 4; below 500 s one wave, n = 8."""
    seen: list[int] = []
    answer = plan(JOBS, [Option(("H100-80GB",), 1)], "fifo", parse_objective("p95<1500s"), workers=2,
                  max_nodes=64, progress=lambda p: seen.append(p.nodes))
    best = answer.smallest["H100-80GB"]
    assert best is not None and (best.nodes, best.value) == (4, 1000.0)
    assert [p.nodes for p in answer.curve["H100-80GB"]] == sorted(seen)
    assert {1: 7000.0, 2: 3000.0}.items() <= {p.nodes: p.value for p in answer.curve["H100-80GB"]}.items()
    strict = plan(JOBS, [Option(("H100-80GB",), 1)], "fifo", parse_objective("p95<500s"), max_nodes=64)
    assert strict.smallest["H100-80GB"] is not None and strict.smallest["H100-80GB"].nodes == 8
    never = plan(JOBS, [Option(("H100-80GB",), 1)], "fifo", parse_objective("p95<500s"), max_nodes=6)
    assert never.smallest["H100-80GB"] is None


def test_the_command_prints_the_answer_and_writes_the_report(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("job_id,submit_time,duration,num_gpus,org\n" + "".join(
        f"j{i},0,1000,1,{'a' if i < 4 else 'b'}\n" for i in range(8)))
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["plan", "--trace", str(trace), "--objective", "p95<1500s", "--policy", "fifo",
                                      "--node-gpus", "1", "--min-nodes", "1", "--max-nodes", "16", "--cores", "1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "smallest cluster for p95<1500s" in result.stdout and "misses" in result.stdout
    assert "<b>4 nodes, 4 GPUs</b>" in (out / "plan.html").read_text()
    bad = CliRunner().invoke(app, ["plan", "--trace", str(trace), "--objective", "p95"])
    assert bad.exit_code == 2 and "objective" in bad.output and "Traceback" not in bad.output
