"""Trace readers for the simulator: ``read_trace(path)`` reads a Philly, Alibaba 2023 or generic CSV trace.

The format is told from the header when not given: a ``job_id`` column means the generic CSV format, the
Philly columns (``timestamp, duration, num_gpus, gpu_time, cluster``) mean Philly, and ``name, num_gpu,
gpu_milli, creation_time`` mean an Alibaba 2023 pod list. See ``docs/traces.md`` and each module's docstring
for the columns, the walltime estimate and what is rounded or skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gpucloud.errors import UnknownNameError
from gpucloud.sim.traces.alibaba import ALIBABA_GPU_TYPES, alibaba_cluster, read_alibaba
from gpucloud.sim.traces.base import (
    DEFAULT_WALLTIME_FACTOR,
    Trace,
    TraceError,
    TraceJob,
    estimate_walltime,
    open_csv,
)
from gpucloud.sim.traces.csv_generic import read_csv_trace
from gpucloud.sim.traces.philly import read_philly

__all__ = [
    "ALIBABA_GPU_TYPES",
    "DEFAULT_WALLTIME_FACTOR",
    "FORMATS",
    "Trace",
    "TraceError",
    "TraceJob",
    "alibaba_cluster",
    "detect_format",
    "estimate_walltime",
    "read_alibaba",
    "read_csv_trace",
    "read_philly",
    "read_trace",
]

#: Reader of each trace format, by name.
FORMATS: dict[str, Callable[..., Trace]] = {
    "philly": read_philly,
    "alibaba": read_alibaba,
    "csv": read_csv_trace,
}

_PHILLY = {"timestamp", "duration", "num_gpus", "gpu_time", "cluster"}
_ALIBABA = {"name", "num_gpu", "gpu_milli", "creation_time"}


def detect_format(path: str | Path) -> str:
    """The format of a trace file, told from its header; :class:`TraceError` on line 1 when it is none."""
    stream, f = open_csv(path)
    with stream:
        cols = set(f.header)
    if "job_id" in cols:
        return "csv"
    if cols >= _PHILLY:
        return "philly"
    if cols >= _ALIBABA:
        return "alibaba"
    raise TraceError(
        f.name, 1, None,
        "cannot tell the trace format from the header; expected a Philly header "
        f"({', '.join(sorted(_PHILLY))}), an Alibaba pod list ({', '.join(sorted(_ALIBABA))}, ...) "
        "or a CSV with job_id, submit_time, duration, num_gpus",
        ",".join(f.header),
    )


def read_trace(
    path: str | Path, fmt: str | None = None, *, walltime_factor: float = DEFAULT_WALLTIME_FACTOR
) -> Trace:
    """Read a trace file of format ``fmt`` (``philly``, ``alibaba``, ``csv``; None: told from the header).

    Raises :class:`UnknownNameError` for an unknown ``fmt`` and :class:`TraceError` (file:line: column ...)
    for a bad file.
    """
    if fmt is None:
        fmt = detect_format(path)
    try:
        reader = FORMATS[fmt]
    except KeyError:
        raise UnknownNameError("trace format", fmt, list(FORMATS)) from None
    return reader(path, walltime_factor=walltime_factor)
