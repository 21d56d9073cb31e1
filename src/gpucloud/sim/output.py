"""The files of one simulation run: ``jobs.csv``, ``allocations.csv`` and ``summary.json`` in a directory.

* ``jobs.csv``: ``job_id,org,num_gpus,submit_time,start_time,end_time,wait_time,jct,preemptions,racks,blocks``,
  one row per job in trace order; ``start_time`` is the first start. Times of a job that never started or
  ended are empty.
* ``allocations.csv``: ``job_id,start_time,end_time,gpus``, one row per run segment in the order the runs
  ended; ``gpus`` lists the GPUs held as ``node/gpu`` labels separated by spaces.
* ``summary.json``: :meth:`gpucloud.sim.metrics.Summary.to_dict`.
* ``costs.csv`` (a priced replay only): ``org,project,gpu_type,runs,gpu_hours,points``, one row per
  org × project × GPU type in sorted order (``project`` empty when the trace names none); ``gpu_hours`` and
  ``points`` with exactly 4 decimals (points are exact Decimals, never floats).

Numbers are written by :func:`fmt_num`: whole numbers without a fraction (``42``, not ``42.0``), others as
Python's shortest round-trip ``repr`` (``0.1``, ``1234.5``). Rows are streamed with the csv module.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from gpucloud.sim.engine import SimResult
from gpucloud.sim.metrics import Summary

JOBS_COLUMNS = ("job_id", "org", "num_gpus", "submit_time", "start_time", "end_time", "wait_time", "jct",
                "preemptions", "racks", "blocks")
ALLOCATION_COLUMNS = ("job_id", "start_time", "end_time", "gpus")
JOBS_FILE = "jobs.csv"
ALLOCATIONS_FILE = "allocations.csv"
SUMMARY_FILE = "summary.json"
COSTS_COLUMNS = ("org", "project", "gpu_type", "runs", "gpu_hours", "points")
COSTS_FILE = "costs.csv"


def fmt_num(value: float | int | None) -> str:
    """``None`` → ``""``; a whole number → no fraction; otherwise the shortest round-trip repr."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def write_jobs(result: SimResult, path: Path) -> int:
    """Write ``jobs.csv``; returns the number of rows."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(JOBS_COLUMNS)
        for r in result.jobs:
            w.writerow((r.job_id, r.org, r.num_gpus, fmt_num(r.submit_time), fmt_num(r.start_time),
                        fmt_num(r.end_time), fmt_num(r.wait_time), fmt_num(r.jct), r.preemptions, r.racks,
                        r.blocks))
    return len(result.jobs)


def write_allocations(result: SimResult, path: Path) -> int:
    """Write ``allocations.csv``; returns the number of rows."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(ALLOCATION_COLUMNS)
        for s in result.segments:
            w.writerow((s.job_id, fmt_num(s.start_time), fmt_num(s.end_time), " ".join(s.gpus)))
    return len(result.segments)


def write_costs(result: SimResult, path: Path) -> int:
    """Write ``costs.csv`` of a priced replay; returns the number of rows."""
    if result.money is None:
        raise ValueError("the replay was not priced (no tariff)")
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COSTS_COLUMNS)
        for r in result.money.rows:
            w.writerow((r.org, r.project, r.gpu_type, r.runs, str(r.gpu_hours), str(r.points)))
    return len(result.money.rows)


def write_summary(summary: Summary, path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(summary.to_dict(), f, indent=2, allow_nan=False)
        f.write("\n")


def write_run(result: SimResult, summary: Summary, directory: Path) -> list[Path]:
    """Write the files of one run into ``directory`` (created if needed): the three above, and ``costs.csv``
    for a priced replay; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / JOBS_FILE, directory / ALLOCATIONS_FILE, directory / SUMMARY_FILE]
    write_jobs(result, paths[0])
    write_allocations(result, paths[1])
    write_summary(summary, paths[2])
    if result.money is not None:
        paths.append(directory / COSTS_FILE)
        write_costs(result, paths[-1])
    return paths
