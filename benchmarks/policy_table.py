"""Print the README's policy table from the ``summary.json`` files a ``gpucloud simulate --out DIR`` run wrote
(one directory per policy under ``DIR``), in the order the policies were given.

    .venv/bin/gpucloud simulate --cluster 56x8 --trace ../shared/traces/philly.csv \\
        --policy fifo,backfill,fairshare,las,srtf --out out/philly-56x8
    .venv/bin/python benchmarks/policy_table.py out/philly-56x8 fifo,backfill,fairshare,las,srtf
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpucloud.cli.simulate import duration


def index(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("wait avg / median", lambda s: f"{duration(s['wait']['avg'])} / {duration(s['wait']['median'])}"),
    ("wait p95 / p99", lambda s: f"{duration(s['wait']['p95'])} / {duration(s['wait']['p99'])}"),
    ("longest wait (any job, once)", lambda s: duration(s["longest_wait"])),
    ("JCT avg / median", lambda s: f"{duration(s['jct']['avg'])} / {duration(s['jct']['median'])}"),
    ("JCT p95 / p99", lambda s: f"{duration(s['jct']['p95'])} / {duration(s['jct']['p99'])}"),
    ("makespan", lambda s: duration(s["makespan"])),
    ("GPU utilisation", lambda s: f"{s['utilisation']:.1%}"),
    ("GPU-hours", lambda s: f"{s['gpu_hours']:,.0f}"),
    ("Jain's index (org slowdown)", lambda s: index(s["jain_fairness"])),
    ("Jain's index (org share / weight)", lambda s: index(s["jain_share"])),
    ("preemptions", lambda s: f"{s['preemptions']:,}"),
    ("work lost to preemption", lambda s: f"{s['lost_gpu_hours']:,.0f} GPU-h ({s['lost_share']:.1%})"),
    ("scheduling cycles", lambda s: f"{s['cycles']:,}"),
    ("simulator wall time", lambda s: f"{s['wall_time']:.1f} s"),
]


def table(out: Path, policies: list[str]) -> str:
    summaries = [json.loads((out / p / "summary.json").read_text()) for p in policies]
    lines = ["| metric | " + " | ".join(policies) + " |", "|---|" + "---:|" * len(policies)]
    for name, cell in ROWS:
        lines.append(f"| {name} | " + " | ".join(cell(s) for s in summaries) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("policies")
    args = ap.parse_args()
    print(table(args.out, args.policies.split(",")))


if __name__ == "__main__":
    main()
