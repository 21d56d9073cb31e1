"""A batch script and its options → the gpucloud job that runs it: the ``POST /jobs`` body, where each of its
fields came from (so the server's errors point at the script's line), and notes on what is accepted but not
enforced. The rules, each as Slurm means it:

* shape: ``--nodes`` × the GPUs per node (``--gres=gpu[:type]:N``, ``--gpus-per-node``, or ``--gpus-per-task`` ×
  tasks per node); or ``--gpus`` in all (spread by the scheduler); a job that asks for no GPU holds one per node;
* ``--time`` → walltime; ``--account`` → project; ``--qos`` → priority class; ``--partition`` → the GPU type
  (resolved against the cluster by the caller); ``--array``, ``--dependency``, ``--reservation`` as they are;
  ``--requeue``/``--no-requeue`` → preemptible or not; ``--chdir`` → working directory; ``--export`` → the
  job's environment (default ``ALL``: the submitting shell's, as sbatch does);
* the command is the batch wrapper (:mod:`gpucloud.cli.batch_wrapper`) with the script, ``--output``/``--error``
  and ``--signal``; the job's environment also carries the Slurm variables known at submission (``SLURM_JOB_NAME``,
  ``SLURM_SUBMIT_DIR``, ``SLURM_NTASKS_PER_NODE``, ``SLURM_ARRAY_TASK_COUNT``...).

Standard library only.
"""

from __future__ import annotations

import os
import socket

from gpucloud.cli.batch_wrapper import output_expression, wrapper
from gpucloud.cli.sbatch_options import Given, Options
from gpucloud.cli.sbatch_script import Script
from gpucloud.cli.slurm_time import parse_slurm_time
from gpucloud.durations import parse_duration
from gpucloud.errors import InputError
from gpucloud.model.array_spec import parse_array
from gpucloud.model.dependency_spec import parse_dependency

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

#: Variables of the submitting shell never carried into a job (``--export=ALL``): the gpucloud credentials,
#: another batch system's or shell's own.
NOT_EXPORTED = ("GPUCLOUD_", "SLURM_", "SBATCH_", "SRUN_", "SALLOC_", "PBS_")
NOT_EXPORTED_NAMES = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "PS1", "PS2", "TERM", "COLUMNS", "LINES"})
SIGNALS = ("HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "CONT", "ALRM", "KILL", "STOP", "URG", "XCPU", "XFSZ")
#: Why each option of :data:`gpucloud.cli.sbatch_options.NOT_ENFORCED` is not.
NOT_ENFORCED_WHY = {"mail": "gpucloud sends no mail (gpucloud sbatch --wait, or gpucloud job ID, tells when it ends)",
                    "mem": "memory is not scheduled or limited", "cpu": "CPUs are not scheduled",
                    "": "gpucloud does not schedule by it"}


class Translation:
    """What a script becomes: ``body`` (``POST /jobs``), ``origins`` (body field → the option that set it),
    ``notes`` (what is accepted but not enforced), ``partition`` (to resolve into a GPU type), and how sbatch
    itself behaves (``wait``, ``parsable``, ``test_only``, ``quiet``)."""

    __slots__ = ("body", "notes", "origins", "parsable", "partition", "quiet", "test_only", "wait")

    def __init__(self) -> None:
        self.body: dict[str, Any] = {}
        self.origins: dict[str, Given] = {}
        self.notes: list[str] = []
        self.partition: Given | None = None
        self.wait = self.parsable = self.test_only = self.quiet = False

    def set(self, field: str, value: object, given: Given | None) -> None:
        self.body[field] = value
        if given is not None:
            self.origins[field] = given


def _count(g: Given, text: str) -> int:
    if not text.isdigit():
        raise g.error(f"{text!r} is not a whole number")
    return int(text)


def _typed(g: Given) -> tuple[str | None, int]:
    """``[type:]N`` of ``--gpus``, ``--gpus-per-node``, ``--gpus-per-task``."""
    kind, colon, count = (g.value or "").rpartition(":")
    return (kind or None) if colon else None, _count(g, count)


def _gres(g: Given, t: Translation) -> tuple[str | None, int]:
    """``gpu[:type][:N]``, possibly among other resources (``gpu:2,nvme:1``: the others are noted)."""
    gpu: tuple[str | None, int] | None = None
    for item in (g.value or "").split(","):
        parts = item.strip().split(":")
        if parts[0] == "none":
            continue
        if parts[0] != "gpu":
            t.notes.append(f"{g.origin}: {g.written}: {parts[0]!r} is not scheduled by gpucloud (GPUs are)")
            continue
        if len(parts) > 3:
            raise g.error("expected gpu, gpu:N, gpu:TYPE or gpu:TYPE:N")
        if len(parts) == 3:
            gpu = (parts[1], _count(g, parts[2]))
        elif len(parts) == 2 and not parts[1].isdigit():
            gpu = (parts[1], 1)  # Slurm's gpu:TYPE is one GPU of that type
        else:
            gpu = (None, _count(g, parts[1]) if len(parts) == 2 else 1)
    return gpu or (None, 0)


def _nodes(g: Given) -> int:
    text = g.value or ""
    low, dash, high = text.partition("-")
    if dash and low != high:
        raise g.error("gpucloud needs an exact node count; a range of node counts is not supported")
    count = _count(g, low)
    if count < 1:
        raise g.error("must be at least 1")
    return count


def shape(opts: Options, t: Translation) -> None:
    """``num_gpus``, ``nodes`` and ``gpu_type`` from the node, task and GPU options."""
    nodes_g, ntasks_g, tpn_g = opts.get("nodes"), opts.get("ntasks"), opts.get("ntasks-per-node")
    nodes = None if nodes_g is None else _nodes(nodes_g)
    ntasks = None if ntasks_g is None else _count(ntasks_g, ntasks_g.value or "")
    tpn = None if tpn_g is None else _count(tpn_g, tpn_g.value or "")
    if nodes is None and ntasks and tpn:
        nodes = -(-ntasks // tpn)
    if tpn is None and ntasks and nodes:
        tpn = -(-ntasks // nodes)
    kinds: list[tuple[str, Given]] = []
    per_node: tuple[int, Given] | None = None
    total: tuple[int, Given] | None = None
    for name in ("gres", "gpus-per-node", "gpus-per-task", "gpus"):
        g = opts.get(name)
        if g is None:
            continue
        kind, count = _gres(g, t) if name == "gres" else _typed(g)
        if kind is not None:
            kinds.append((kind, g))
        if name == "gpus":
            total = (count, g)
        elif name == "gpus-per-task" and tpn is None and ntasks is not None:
            total = (count * ntasks, g)  # tasks wherever they fit: GPUs in all
        else:
            count *= (tpn or 1) if name == "gpus-per-task" else 1
            if per_node is not None and per_node[0] != count:
                raise g.error(f"disagrees with {per_node[1].written} ({per_node[0]} GPUs per node)")
            per_node = (count, g)
    if per_node is not None and per_node[0] > 0:
        nodes = nodes or 1
        t.set("num_gpus", nodes * per_node[0], per_node[1])
        t.set("nodes", nodes, nodes_g or per_node[1])
        if total is not None and total[0] != nodes * per_node[0]:
            raise total[1].error(f"disagrees with {per_node[1].written} on {nodes} node(s) "
                                 f"({nodes * per_node[0]} GPUs)")
    elif total is not None and total[0] > 0:
        t.set("num_gpus", total[0], total[1])
        if nodes is not None:
            t.set("nodes", nodes, nodes_g)
    else:
        nodes = nodes or 1
        t.set("num_gpus", nodes, nodes_g)
        if nodes > 1:
            t.set("nodes", nodes, nodes_g)
        t.notes.append("no GPUs asked for (--gres=gpu:N, --gpus, --gpus-per-node): gpucloud jobs hold GPUs, this "
                       f"one {'1 per node' if nodes > 1 else '1'}")
    for kind, g in kinds:
        if kind.lower() != kinds[0][0].lower():
            raise g.error(f"GPU type {kind!r} disagrees with {kinds[0][1].written}")
    if kinds:
        t.set("gpu_type", kinds[0][0], kinds[0][1])
    t.body["env"]["SLURM_NTASKS_PER_NODE"] = str(tpn or 1)
    if ntasks is not None:
        t.body["env"]["SLURM_NTASKS"] = str(ntasks)


def environment(opts: Options, shell: dict[str, str]) -> dict[str, str]:
    """The job's environment from ``--export`` (default ``ALL``) and the submitting shell's variables."""
    g = opts.get("export")
    items = ["ALL"] if g is None else [i.strip() for i in (g.value or "").split(",") if i.strip()]
    env: dict[str, str] = {}
    if items and items[0].upper() in ("ALL", "NONE"):
        if items[0].upper() == "ALL":
            env = {k: v for k, v in shell.items()
                   if k not in NOT_EXPORTED_NAMES and not k.startswith(NOT_EXPORTED) and k and "=" not in k}
        items = items[1:]
    for item in items:
        name, eq, value = item.partition("=")
        if not name or not (name[0].isalpha() or name[0] == "_"):
            assert g is not None
            raise g.error(f"{item!r} is not a variable (give ALL, NONE, or NAME[=VALUE],...)")
        if eq:
            env[name] = value
        elif name in shell:
            env[name] = shell[name]
    return env


def _signal(g: Given) -> tuple[str, float, bool]:
    text = g.value or ""
    batch = text.upper().startswith("B:")
    if text.upper().startswith("R:"):
        raise g.error("R: (before a reservation ends) is not supported; jobs in a reservation end with it")
    name, _, when = text[2:].partition("@") if batch else text.partition("@")
    name = name.upper().removeprefix("SIG")
    if name.isdigit() and 1 <= int(name) <= 64:
        name = str(int(name))
    elif name not in SIGNALS:
        raise g.error(f"unknown signal {name!r} (e.g. USR1, TERM, or a number)")
    seconds = float(_count(g, when)) if when else 60.0
    return name, seconds, batch


def _note(g: Given) -> str:
    why = next(w for key, w in NOT_ENFORCED_WHY.items() if key in g.name)
    return f"{g.origin}: {g.written}: accepted but not enforced: {why}"


def translate(script: Script, opts: Options, args: list[str], *, cwd: str, shell: dict[str, str]) -> Translation:
    """The job that runs ``script`` (with ``args``) under ``opts``; :class:`InputError` pointing at the option for
    anything sbatch would refuse or gpucloud cannot do."""
    from gpucloud.cli.sbatch_options import NOT_ENFORCED, UNSUPPORTED

    t = Translation()
    for given in opts.given.values():
        if given.name in UNSUPPORTED:
            raise given.error(f"not supported by gpucloud: {UNSUPPORTED[given.name]}")
        if given.name in NOT_ENFORCED:
            t.notes.append(_note(given))
    t.wait, t.parsable, t.test_only, t.quiet = (opts.has(n) for n in ("wait", "parsable", "test-only", "quiet"))
    t.body["env"] = environment(opts, shell)
    name_g = opts.get("job-name")
    name = (name_g.value if name_g else None) or ("wrap" if opts.has("wrap") else os.path.basename(script.name))
    t.set("name", name, name_g)
    shape(opts, t)
    walltime: float | None = None
    if (g := opts.get("time")) is not None:
        try:
            walltime = parse_slurm_time(g.value or "")
        except InputError as exc:
            raise g.error(exc.reason) from None
        t.set("walltime", walltime, g)
    else:
        t.notes.append("no --time: the server's default walltime applies (1h unless its cluster says otherwise)")
    for option, field in (("account", "project"), ("qos", "priority"), ("reservation", "reservation"),
                          ("priority-class", "priority"), ("service-class", "service_class"), ("org", "org"),
                          ("gpu-type", "gpu_type")):
        if (g := opts.get(option)) is not None:
            t.set(field, g.value, g)
    if (g := opts.get("grace")) is not None:
        try:
            t.set("grace", parse_duration(g.value), g)
        except ValueError as exc:
            raise g.error(str(exc)) from None
    for option, value in (("requeue", True), ("no-requeue", False), ("preemptible", True),
                          ("no-preemptible", False)):
        if (g := opts.get(option)) is not None:
            t.set("preemptible", value, g)
    t.partition = opts.get("partition")
    spec = None
    if (g := opts.get("array")) is not None:
        try:
            spec = parse_array(g.value or "")
        except InputError as exc:
            raise g.error(exc.reason) from None
        t.set("array", spec.text, g)
        t.body["env"].update({"SLURM_ARRAY_TASK_COUNT": str(spec.count), "SLURM_ARRAY_TASK_MIN": str(spec.indices[0]),
                              "SLURM_ARRAY_TASK_MAX": str(spec.indices[-1]), "SLURM_ARRAY_TASK_STEP": str(spec.step)})
    if (g := opts.get("dependency")) is not None:
        try:
            t.set("dependency", parse_dependency(g.value or "").text, g)
        except InputError as exc:
            raise g.error(exc.reason) from None
    chdir = opts.get("chdir")
    t.set("cwd", os.path.normpath(os.path.join(cwd, chdir.value or "")) if chdir else cwd, chdir)
    _slurm_env(t, opts, name, cwd)
    _command(t, script, opts, args, name, walltime, spec is not None)
    return t


def _slurm_env(t: Translation, opts: Options, name: str, cwd: str) -> None:
    """The Slurm variables known at submission (the per-rank ones are set on the rank)."""
    env = t.body["env"]
    env.update({"SLURM_JOB_NAME": name, "SLURM_SUBMIT_DIR": cwd, "SLURM_SUBMIT_HOST": socket.gethostname(),
                "SLURM_EXPORT_ENV": opts.value("export") or "ALL"})
    for option, var in (("account", "SLURM_JOB_ACCOUNT"), ("partition", "SLURM_JOB_PARTITION"),
                        ("qos", "SLURM_JOB_QOS"), ("cpus-per-task", "SLURM_CPUS_PER_TASK"),
                        ("gpus", "SLURM_GPUS"), ("gpus-per-node", "SLURM_GPUS_PER_NODE"),
                        ("gpus-per-task", "SLURM_GPUS_PER_TASK"), ("mem", "SLURM_MEM_PER_NODE"),
                        ("reservation", "SLURM_JOB_RESERVATION")):
        value = opts.value(option)
        if value:
            env[var] = value
    if (g := opts.get("cpus-per-task")) is not None:
        _count(g, g.value or "")
        t.notes.append(f"{g.origin}: {g.written}: accepted but not enforced: {NOT_ENFORCED_WHY['cpu']} "
                       "(SLURM_CPUS_PER_TASK is set)")


def _command(t: Translation, script: Script, opts: Options, args: list[str], name: str, walltime: float | None,
             array: bool) -> None:
    out_g, err_g = opts.get("output"), opts.get("error")
    default = "slurm-%A_%a.out" if array else "slurm-%j.out"
    output = out_g.value if out_g and out_g.value else default
    error = err_g.value if err_g and err_g.value else None
    for g, pattern in ((out_g, output), (err_g, error)):
        if pattern is not None:
            try:
                output_expression(pattern, name, g.written if g else "--output")
            except InputError as exc:
                raise (g.error(exc.reason) if g else exc) from None
    mode = (opts.value("open-mode") or "truncate").lower()
    if mode not in ("append", "truncate"):
        g = opts.get("open-mode")
        assert g is not None
        raise g.error("must be append or truncate")
    signal = None
    if (g := opts.get("signal")) is not None:
        signal = _signal(g)
        if walltime is None:
            t.notes.append(f"{g.origin}: {g.written}: sent {signal[1]:g} s before the server's default walltime of "
                           "1h (give --time)")
    program = wrapper(script.text, os.path.basename(script.name), output=output, error=error, job_name=name,
                      truncate=mode == "truncate", signal=signal, walltime=walltime or 3600.0)
    t.set("argv", ["/bin/sh", "-c", program, os.path.basename(script.name), *args], None)
