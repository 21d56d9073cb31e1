"""Replays with services (``gpucloud.sim.service_replay``, ``service_report``) and ``gpucloud simulate --services``.

The hand-worked case: one node of 4 GPUs; a RAN service wants one 2-GPU replica during [1000, 2000) of a
[0, 3000) window; one AI job of 4 GPUs (grace 100 s, checkpoints every 1800 s) runs from 0 for 5000 s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpucloud.cli.main import app
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.demand import curve
from gpucloud.model.job import JobSpec
from gpucloud.model.service import ServiceClass, ServiceSpec
from gpucloud.sim.engine import SimConfig, Simulation
from gpucloud.sim.events import Kind
from gpucloud.sim.service_replay import replay
from gpucloud.sim.service_report import met, sites
from gpucloud.sim.traces.base import TraceJob

ROOT = Path(__file__).resolve().parents[2]
RAN = ServiceSpec("ran", ServiceClass.RAN, 2, "H100-80GB", (0,), curve([(0, 0), (1000, 1), (2000, 0)], 0.0))
AI = TraceJob(JobSpec("ai", "lab", 4, 0.0, 10_000.0, grace=100.0), 5000.0)


def test_the_ai_job_gives_the_gpus_back_in_time_and_takes_them_again_after_the_fall() -> None:
    """The job is signalled at 900, gone at 1000 when the replica starts; the replica stops at 2000 and the job
    starts again at once. Met: 100%. Idle GPU-s: 4 x 3000 - 2 x 1000 = 10,000; the job used 4 x 1000 before the
    rise and 4 x 1000 after the fall: 80%. Lost: 1000 s x 4 GPUs since its start (no checkpoint yet)."""
    r = replay(parse_inline("1x4"), [AI], "fifo", [RAN], 3000.0)
    assert r.counts["ran"] == [(0.0, 0), (1000.0, 1), (2000.0, 0)]
    assert [(s.start_time, s.end_time) for s in r.result.segments][:1] == [(0.0, 1000.0)]
    assert r.result.jobs[0].preemptions == 1 and r.result.lost_gpu_seconds == 4000.0
    assert r.result.segments[1].start_time == 2000.0
    (figures,) = met(r)
    assert (figures.met_time, figures.met_replicas) == (1.0, 1.0)
    (site,) = sites(r, None)
    assert (site.idle_gpu_hours * 3600, site.harvested_gpu_hours * 3600) == pytest.approx((10_000.0, 8000.0))


def test_a_replay_rebuilt_from_the_drivers_export_every_cycle_is_the_same() -> None:
    jobs = [AI, TraceJob(JobSpec("small", "lab", 2, 500.0, 4000.0, grace=30.0), 2500.0)]

    def run(rebuild: bool) -> list[tuple[str, float, float]]:
        sim = Simulation(parse_inline("1x4"), jobs, "backfill",
                         config=SimConfig(rebuild_every_cycle=rebuild, services=(RAN,)))
        sim.loop.push(0.0, Kind.WAKE, ("", 0))
        return [(s.job_id, s.start_time, s.end_time) for s in sim.run().segments]

    assert run(True) == run(False)


def test_simulate_with_services_reports_and_draws(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("job_id,submit_time,duration,num_gpus,org\nai,0,5000,4,lab\nsmall,500,2500,2,lab\n")
    services = tmp_path / "services.yaml"
    services.write_text("services:\n  - {name: ran, class: ran, gpus_per_replica: 2, gpu_type: H100-80GB,\n"
                        "     sites: [b0], demand: {curve: {start: 0, points: [[1000, 1], [2000, 0]]}}}\n")
    out = tmp_path / "out"
    args = ["simulate", "--trace", str(trace), "--cluster", "1x4", "--services", str(services), "--from",
            "1970-01-01", "--days", "1", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "100.00%" in res.stdout
    doc = json.loads((out / "services.json").read_text())
    assert doc["met_time"] == 1.0 and doc["ai"]["jobs"] == 2
    assert (out / "services.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(app, [*args[:-2], "--policy", "fifo,las"])
    assert bad.exit_code != 0 and "--policy" in bad.output


def test_the_shipped_ai_ran_example_loads() -> None:
    from gpucloud.model.cluster_file import load_cluster
    from gpucloud.model.demand import average
    from gpucloud.model.service_file import load_services
    from gpucloud.money.tariff_file import load_tariffs

    cluster = load_cluster(ROOT / "examples" / "clusters" / "ai-ran.yaml")
    specs = load_services(ROOT / "examples" / "services" / "ai-ran.yaml", cluster)
    week = 7 * 86400.0
    mean = sum(average(s.demand, 0.0, week) * s.gpus for s in specs) / cluster.total_gpus
    assert 0.20 <= mean <= 0.30
    assert all(s.cls is ServiceClass.RAN for s in specs)
    tariff = load_tariffs(ROOT / "examples" / "tariffs" / "ai-ran.yaml", cluster).in_force(0.0 + 1.6e9)
    assert tariff.rate("GB200-186GB", "preemptible", "normal") == 3  # 6.00 points an hour, half as preemptible
