"""The Alibaba GPU trace of 2023 (cluster-trace-gpu-v2023, Weng et al., USENIX ATC 2023): pods and nodes.

Pods (``name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos, pod_phase, creation_time,
deletion_time, scheduled_time``; times in seconds) become jobs:

- ``id`` = the pod name; ``submit`` = ``creation_time``; ``duration`` = ``deletion_time - scheduled_time``
  (for pods still running at the end of the trace this is cut at the trace's end, as recorded).
- ``org`` = ``qos`` (LS, BE, Burstable, Guaranteed): the trace has no tenant, so the QoS class stands in for
  one; an empty qos becomes ``default``.
- ``num_gpus`` = ``num_gpu``. A pod asking for a fraction of a GPU (``gpu_milli`` < 1000) gets whole GPUs
  (each share rounded up to 1 GPU), because GPU sharing is a later feature; counted in
  ``Trace.adjusted["fractional_gpu_rounded_up"]``.
- ``gpu_type`` from ``gpu_spec``: empty = any type; one model (e.g. ``V100M16``) = that type, named as in
  :data:`ALIBABA_GPU_TYPES` and :func:`alibaba_cluster`; several models separated by ``|`` = any type (a job
  asks for one type or any; counted in ``adjusted["gpu_spec_several_models"]``). An unknown model is an
  error. (In the published 2023 file every ``gpu_spec`` is empty.)
- The trace has no walltime: ``walltime = max(60, duration * walltime_factor)`` (see :mod:`.base`).
- Skipped on purpose and counted in ``Trace.skipped``: ``cpu_only`` (``num_gpu`` = 0), ``never_scheduled``
  (empty ``scheduled_time``: pods still pending at the end), ``no_creation_time`` / ``no_deletion_time``
  (empty), ``negative_duration`` (``deletion_time`` before ``scheduled_time``). A time that is present but not
  a non-negative number is an error, as are a bad ``num_gpu``/``gpu_milli``, an empty or repeated name.
- ``cpu_milli``, ``memory_mib`` and ``pod_phase`` are not used (failed pods are replayed like the others, as
  in the Philly trace where 30% of jobs failed).

Nodes (``sn, cpu_milli, memory_mib, gpu, model``) become a :class:`Cluster` with :func:`alibaba_cluster`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from gpucloud.errors import InputError, UnknownNameError
from gpucloud.model.cluster import Block, Cluster, GpuType, Node, Rack
from gpucloud.sim.traces.base import (
    DEFAULT_WALLTIME_FACTOR,
    RawJob,
    Trace,
    TraceError,
    build_trace,
    check_walltime_factor,
    estimate_walltime,
    gc_paused,
    open_csv,
    parse_float,
    parse_int,
)

POD_COLUMNS = ("name", "num_gpu", "gpu_milli", "gpu_spec", "qos", "creation_time", "deletion_time",
               "scheduled_time")
NODE_COLUMNS = ("sn", "gpu", "model")

#: The GPU models of the 2023 trace: memory (GB) and speed relative to a P100 (= 1.0, the reference GPU of
#: both real traces' era). Public specs give the memory of the named models; the speeds are rough
#: DNN-training throughput ratios (T4 a bit slower than a P100, V100 and A10 about twice as fast). G2 and G3
#: are models that Alibaba did not name: G2 (8-GPU nodes, 96 cores) is assumed V100-class with 32 GB, G3 (8-GPU nodes,
#: 128 cores, 768 GiB) a newer A100-class GPU with 80 GB. Pass ``gpu_types`` to :func:`alibaba_cluster` to
#: use other figures.
ALIBABA_GPU_TYPES: dict[str, GpuType] = {
    t.name: t
    for t in (
        GpuType("G2", 32, 2.0),
        GpuType("T4", 16, 0.8),
        GpuType("P100", 16, 1.0),
        GpuType("V100M16", 16, 2.0),
        GpuType("G3", 80, 3.5),
        GpuType("V100M32", 32, 2.0),
        GpuType("A10", 24, 2.0),
    )
}

#: :func:`alibaba_cluster` puts this many nodes of one model in a rack.
RACK_NODES = 8

_SPEC_COLUMNS = {"num_gpus": "num_gpu", "id": "name", "org": "qos"}


def _gpu_type(name: str, line: int, text: str) -> tuple[str | None, bool]:
    """``gpu_spec`` → (gpu_type or None for any, whether several models were listed)."""
    models = [m.strip() for m in text.split("|") if m.strip()]
    for m in models:
        if m not in ALIBABA_GPU_TYPES:
            hint = UnknownNameError("GPU model", m, list(ALIBABA_GPU_TYPES)).message
            raise TraceError(name, line, "gpu_spec", hint, text)
    if not models:
        return None, False
    if len(set(models)) == 1:
        return models[0], False
    return None, True


def read_alibaba(path: str | Path, *, walltime_factor: float = DEFAULT_WALLTIME_FACTOR) -> Trace:
    """Read an Alibaba 2023 pod list; raises :class:`TraceError` naming file, line and column on a bad row."""
    factor = check_walltime_factor(walltime_factor)
    stream, f = open_csv(path)
    with stream, gc_paused():
        f.require(POD_COLUMNS, "Alibaba pod")
        name = f.name
        i_name, i_gpu, i_milli, i_spec, i_qos, i_create, i_delete, i_sched = (f.index[c] for c in POD_COLUMNS)
        raw: list[RawJob] = []
        orgs: dict[str, None] = {}
        skipped: dict[str, int] = {}
        adjusted: dict[str, int] = {}
        seen: dict[str, int] = {}

        def skip(reason: str) -> None:
            skipped[reason] = skipped.get(reason, 0) + 1

        def adjust(what: str) -> None:
            adjusted[what] = adjusted.get(what, 0) + 1

        for line, row in f.rows():
            pod = row[i_name].strip()
            if not pod:
                raise TraceError(name, line, "name", "must not be empty", row[i_name])
            if pod in seen:
                raise TraceError(name, line, "name", f"duplicate pod name (first on line {seen[pod]})", pod)
            seen[pod] = line
            gpus = parse_int(name, line, "num_gpu", row[i_gpu], minimum=0)
            if gpus == 0:
                skip("cpu_only")
                continue
            milli = parse_int(name, line, "gpu_milli", row[i_milli], minimum=0)
            if not 1 <= milli <= 1000:
                raise TraceError(
                    name, line, "gpu_milli", "must be 1..1000 (thousandths of a GPU) for a GPU pod", row[i_milli]
                )
            if milli < 1000:
                adjust("fractional_gpu_rounded_up")
            gpu_type, several = _gpu_type(name, line, row[i_spec])
            if several:
                adjust("gpu_spec_several_models")
            times: list[float] = []
            for col, i in (("creation_time", i_create), ("scheduled_time", i_sched),
                           ("deletion_time", i_delete)):
                text = row[i].strip()
                times.append(math.nan if not text else parse_float(name, line, col, text))
            create, sched, delete = times
            if math.isnan(create):
                skip("no_creation_time")
                continue
            if math.isnan(sched):
                skip("never_scheduled")
                continue
            if math.isnan(delete):
                skip("no_deletion_time")
                continue
            if delete < sched:
                skip("negative_duration")
                continue
            dur = delete - sched
            org = row[i_qos].strip() or "default"
            orgs[org] = None
            raw.append((create, line, pod, org, gpus, estimate_walltime(dur, factor), dur, gpu_type, None, 0,
                        True, 0.0))
        return build_trace(raw, list(orgs), name, "alibaba", skipped, adjusted, _SPEC_COLUMNS)


def alibaba_cluster(
    nodes_csv_path: str | Path,
    *,
    rack_nodes: int = RACK_NODES,
    gpu_types: Mapping[str, GpuType] | None = None,
    name: str = "alibaba2023",
) -> Cluster:
    """Build the cluster of an Alibaba 2023 node list (``sn, cpu_milli, memory_mib, gpu, model``).

    One block per GPU model (in the order of :data:`ALIBABA_GPU_TYPES`), named after the model; inside it
    racks of ``rack_nodes`` nodes (``G2-r000``, ...) in file order; nodes keep their ``sn`` as name. Nodes
    with 0 GPUs are left out. ``gpu_types`` replaces the memory/speed table (it must name every model present).
    """
    if rack_nodes < 1:
        raise InputError("rack_nodes", "must be at least 1", rack_nodes)
    types = dict(ALIBABA_GPU_TYPES if gpu_types is None else gpu_types)
    stream, f = open_csv(nodes_csv_path)
    by_model: dict[str, list[tuple[str, int]]] = {t: [] for t in types}
    with stream:
        f.require(NODE_COLUMNS, "Alibaba node")
        fname = f.name
        i_sn, i_gpu, i_model = (f.index[c] for c in NODE_COLUMNS)
        seen: dict[str, int] = {}
        for line, row in f.rows():
            sn = row[i_sn].strip()
            if not sn:
                raise TraceError(fname, line, "sn", "must not be empty", row[i_sn])
            if sn in seen:
                raise TraceError(fname, line, "sn", f"duplicate node name (first on line {seen[sn]})", sn)
            seen[sn] = line
            gpus = parse_int(fname, line, "gpu", row[i_gpu], minimum=0)
            if gpus == 0:
                continue
            model = row[i_model].strip()
            if model not in types:
                hint = UnknownNameError("GPU model", model, list(types)).message
                raise TraceError(fname, line, "model", hint, row[i_model])
            by_model[model].append((sn, gpus))
    blocks: list[Block] = []
    racks: list[Rack] = []
    nodes: list[Node] = []
    for model, members in by_model.items():
        if not members:
            continue
        block = Block(len(blocks), model)
        blocks.append(block)
        width = max(3, len(str((len(members) - 1) // rack_nodes)))
        for k, (sn, gpus) in enumerate(members):
            if k % rack_nodes == 0:
                racks.append(Rack(len(racks), f"{model}-r{k // rack_nodes:0{width}d}", block.index))
            nodes.append(Node(len(nodes), sn, model, gpus, len(racks) - 1, block.index))
    used = {b.name for b in blocks}
    total = sum(n.gpus for n in nodes)
    return Cluster(
        name,
        {k: v for k, v in types.items() if k in used},
        tuple(blocks),
        tuple(racks),
        tuple(nodes),
        f"Alibaba GPU cluster 2023 ({len(nodes)} nodes, {total} GPUs) from {Path(nodes_csv_path).name}",
    )
