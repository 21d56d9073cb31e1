"""The command a batch job runs on each of its nodes: a POSIX ``sh`` program, made by ``gpucloud sbatch`` for the
script it submits, that gives the script what Slurm's batch step gives it and then runs it.

On each rank it:

1. sets the per-rank Slurm variables from what the executor gives every rank (``SLURM_JOB_ID`` from
   ``GPUCLOUD_JOB_ID``, ``SLURM_NODEID``/``SLURM_PROCID`` from ``GPUCLOUD_NODE_RANK``, ``SLURM_JOB_NODELIST`` from
   ``GPUCLOUD_NODES``, ``SLURM_ARRAY_*`` from ``GPUCLOUD_ARRAY_*``, ...);
2. writes the script into a private temporary directory, with ``srun`` and ``scontrol`` stand-ins first on the
   ``PATH`` (``srun CMD`` runs CMD once per task of this node, with ``SLURM_PROCID``/``SLURM_LOCALID`` set;
   ``scontrol show hostnames`` lists the job's nodes);
3. copies the script's output to ``--output``/``--error`` on the rank's host (rank 0; every rank when the file name
   has ``%n``, ``%N`` or ``%t``) while it still goes to the job's logs in the database;
4. with ``--signal``, sends the signal that long before the walltime ends (to the ``srun`` steps, or with ``B:`` to
   the script itself);
5. runs the script in the foreground, holding off the signals its process group gets until the script has ended
   (so a checkpointing script keeps its grace period), then stops what the script left running, as Slurm does when
   a batch script ends, and ends with the script's status (re-raising the signal that killed it).
"""

from __future__ import annotations

import os

from gpucloud.errors import InputError

#: Signals the executor forwards to a job: the wrapper waits for the script instead of dying of them.
FORWARDED = "TERM INT HUP USR1 USR2"
#: ``%x`` etc. in ``--output``/``--error`` → the shell expression of the value on the rank (numbers zero-padded
#: with a width: ``%4a``).
NUMERIC = {"j": "$SLURM_JOB_ID", "A": "${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}",
           "a": "${SLURM_ARRAY_TASK_ID:-4294967294}", "n": "$SLURM_NODEID", "t": "$SLURM_PROCID"}
TEXT = {"N": "$SLURMD_NODENAME", "u": "$USER", "s": "batch", "J": "$SLURM_JOB_ID.batch"}
#: letters whose value differs between the ranks of one job (a file per rank)
PER_RANK = frozenset("nNt")

SRUN = r"""#!/bin/sh
# srun inside a gpucloud batch job: every node runs the batch script, so srun runs its command here, once per
# task of this node (--ntasks-per-node, or --ntasks spread over the nodes, or the job's), with SLURM_PROCID and
# SLURM_LOCALID set. Options that do not change that are accepted and have no effect.
n=""; tpn=""
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    --ntasks=*) n=${1#*=} ;;
    -n|--ntasks) n=$2; shift ;;
    -n*) n=${1#-n} ;;
    --ntasks-per-node=*) tpn=${1#*=} ;;
    --ntasks-per-node) tpn=$2; shift ;;
    --*=*) ;;
    -N|-c|-G|-t|-J|-o|-e|-p|-A|-w|-x|-D|-m|-B|-d|-T|-r|-W|--nodes|--cpus-per-task|--gpus|--gpus-per-task|\
--gpus-per-node|--time|--job-name|--output|--error|--partition|--account|--nodelist|--exclude|--chdir|\
--distribution|--mpi|--cpu-bind|--gpu-bind|--mem|--mem-per-cpu|--mem-per-gpu|--export|--gres|--cpus-per-gpu|\
--ntasks-per-gpu|--threads-per-core|--hint|--signal|--kill-on-bad-exit|--wait|--input|--open-mode) shift ;;
    -*) ;;
    *) break ;;
  esac
  shift
done
[ $# -gt 0 ] || { echo "srun: give the command to run" >&2; exit 1; }
nodes=${SLURM_NNODES:-1}; node=${SLURM_NODEID:-0}
if [ -z "$tpn" ]; then
  if [ -n "$n" ]; then tpn=$(( (n + nodes - 1) / nodes )); else tpn=${SLURM_NTASKS_PER_NODE:-1}; fi
fi
count=$tpn
if [ -n "$n" ]; then left=$((n - node * tpn)); [ "$left" -lt "$count" ] && count=$left; fi
[ "$count" -gt 0 ] || exit 0
export SLURM_STEP_NUM_TASKS=${n:-$((tpn * nodes))} SLURM_STEP_NUM_NODES=$nodes
if [ "$count" -eq 1 ]; then
  export SLURM_LOCALID=0 SLURM_PROCID=$((node * tpn))
  echo $$ >>"$GPUCLOUD_BATCH_DIR/steps"
  exec "$@"
fi
i=0; pids=""
while [ "$i" -lt "$count" ]; do
  (SLURM_LOCALID=$i SLURM_PROCID=$((node * tpn + i)); export SLURM_LOCALID SLURM_PROCID; exec "$@") &
  pids="$pids $!"; i=$((i + 1))
done
echo $pids >>"$GPUCLOUD_BATCH_DIR/steps"
st=0
for p in $pids; do wait "$p" || { c=$?; [ "$st" -eq 0 ] && st=$c; }; done
exit $st
"""

SCONTROL = r"""#!/bin/sh
# scontrol inside a gpucloud batch job: only "show hostnames" (the job's nodes, one a line).
if [ "$1" = show ] && { [ "$2" = hostnames ] || [ "$2" = hostname ]; }; then
  echo "${3:-$SLURM_JOB_NODELIST}" | tr ',' '\n'
  exit 0
fi
echo "scontrol: inside a gpucloud job only 'scontrol show hostnames [LIST]' works (see gpucloud job $SLURM_JOB_ID)" >&2
exit 1
"""

PRELUDE = r"""
export SLURM_JOB_ID="$GPUCLOUD_JOB_ID" SLURM_JOBID="$GPUCLOUD_JOB_ID"
export SLURM_NODEID="$GPUCLOUD_NODE_RANK" SLURM_LOCALID=0 SLURMD_NODENAME="$GPUCLOUD_NODE"
export SLURM_TOPOLOGY_ADDR="$GPUCLOUD_NODE" SLURM_JOB_NUM_NODES="$GPUCLOUD_WORLD_SIZE"
export SLURM_NNODES="$GPUCLOUD_WORLD_SIZE"
export SLURM_JOB_NODELIST="${GPUCLOUD_NODES:-$GPUCLOUD_NODE}" SLURM_NODELIST="${GPUCLOUD_NODES:-$GPUCLOUD_NODE}"
export SLURM_PROCID=$((GPUCLOUD_NODE_RANK * ${SLURM_NTASKS_PER_NODE:-1})) SLURM_JOB_GPUS="$CUDA_VISIBLE_DEVICES"
export SLURM_NTASKS=${SLURM_NTASKS:-$((${SLURM_NTASKS_PER_NODE:-1} * GPUCLOUD_WORLD_SIZE))}
export SLURM_NPROCS=$SLURM_NTASKS SLURM_TASKS_PER_NODE="${SLURM_NTASKS_PER_NODE:-1}"
[ "$GPUCLOUD_WORLD_SIZE" -gt 1 ] && SLURM_TASKS_PER_NODE="$SLURM_TASKS_PER_NODE(x$GPUCLOUD_WORLD_SIZE)"
g=0; for _ in $(echo "$CUDA_VISIBLE_DEVICES" | tr ',' ' '); do g=$((g + 1)); done
export SLURM_GPUS_ON_NODE=$g
if [ -n "$GPUCLOUD_ARRAY_JOB_ID" ]; then
  export SLURM_ARRAY_JOB_ID="$GPUCLOUD_ARRAY_JOB_ID" SLURM_ARRAY_TASK_ID="$GPUCLOUD_ARRAY_TASK_ID"
fi
d=$(mktemp -d "${TMPDIR:-/tmp}/gpucloud-batch.XXXXXX") || exit 1
export GPUCLOUD_BATCH_DIR="$d"
mkdir "$d/bin"
"""


def _quoted(text: str) -> str:
    """``text`` inside double quotes of ``sh``."""
    return "".join("\\" + c if c in '\\$`"' else c for c in text)


def output_expression(pattern: str, job_name: str, field: str) -> tuple[str, bool]:
    """The ``sh`` double-quoted string that ``--output``/``--error`` ``pattern`` is on a rank, and whether it differs
    from rank to rank. A pattern with a backslash is taken literally, as Slurm does."""
    if "\\" in pattern:
        return '"' + _quoted(pattern.replace("\\", "")) + '"', False
    out: list[str] = []
    per_rank = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c != "%":
            out.append(_quoted(c))
            i += 1
            continue
        j = i + 1
        while j < len(pattern) and pattern[j].isdigit():
            j += 1
        width, letter = pattern[i + 1:j], pattern[j:j + 1]
        if letter == "%" and not width:
            out.append("%")
        elif letter == "x":
            out.append(_quoted(job_name))
        elif letter in NUMERIC:
            out.append(f"$(printf %0{int(width)}d \"{NUMERIC[letter]}\")" if width else NUMERIC[letter])
        elif letter in TEXT:
            out.append(TEXT[letter])
        else:
            raise InputError(field, f"unknown replacement %{width}{letter} (known: %% %A %a %J %j %N %n %s %t %u %x)",
                             pattern)
        per_rank = per_rank or letter in PER_RANK
        i = j + 1
    return '"' + "".join(out) + '"', per_rank


def _heredoc(name: str, text: str) -> str:
    """``cat > name`` of ``text`` exactly, with a delimiter that is not a line of it."""
    delimiter = "GPUCLOUD_" + os.urandom(6).hex().upper()
    return f"cat >{name} <<'{delimiter}'\n{text if text.endswith(chr(10)) else text + chr(10)}{delimiter}\n"


def wrapper(script: str, name: str, *, output: str, error: str | None, job_name: str, truncate: bool,
            signal: tuple[str, float, bool] | None, walltime: float) -> str:
    """The ``sh -c`` program of a batch job. ``output``/``error``: the file patterns (``error`` None: into the
    output file; ``/dev/null``: not copied); ``signal``: (name, seconds before the walltime, to the script itself)."""
    lines = [f"# gpucloud sbatch {name}: the batch script runs below, as Slurm's batch step"]
    lines.append(PRELUDE.strip())
    lines.append(_heredoc('"$d/script"', script).rstrip())
    lines.append(_heredoc('"$d/bin/srun"', SRUN).rstrip())
    lines.append(_heredoc('"$d/bin/scontrol"', SCONTROL).rstrip())
    lines.append('chmod 700 "$d/script" "$d/bin/srun" "$d/bin/scontrol"')
    lines.append('export PATH="$d/bin:$PATH"')
    lines.append(f"exec 3>&1 4>&2; trap ':' {FORWARDED}")
    lines += _copies(output, error, job_name, truncate)
    if signal is not None:
        lines += _timer(*signal, walltime)
    runner = '"$d/script"' if signal is None or not signal[2] else \
        "sh -c 'echo $$ >\"$GPUCLOUD_BATCH_DIR/pid\"; exec \"$0\" \"$@\"' \"$d/script\""
    lines.append(f'{runner} "$@"; st=$?')
    if signal is not None:
        lines.append('kill -KILL "$timer" 2>/dev/null')
    lines.append("trap '' TERM; kill -TERM -$$ 2>/dev/null  # what the script left running, as Slurm does")
    lines.append('exec 1>&3 2>&4 3>&- 4>&-; wait; rm -rf "$d"')
    lines.append(f"if [ $st -gt 128 ]; then trap - {FORWARDED}; kill -s $((st - 128)) $$; fi")
    lines.append("exit $st")
    return "\n".join(lines) + "\n"


def _copies(output: str, error: str | None, job_name: str, truncate: bool) -> list[str]:
    """Copy stdout (and stderr) to the files on the rank's host, while they still go to the job's logs; a file
    that cannot be opened fails the job, as in Slurm."""
    out, out_each = output_expression(output, job_name, "--output")
    err, err_each = (out, out_each) if error is None else output_expression(error, job_name, "--error")
    lines = []
    for stream, expr, each, fd in (("o", out, out_each, 1), ("e", err, err_each, 2)):
        if expr == '"/dev/null"':
            continue
        empty = ': >"$f" && ' if truncate else ""
        copy = (f'f={expr}; {empty}: >>"$f" || {{ echo "gpucloud sbatch: cannot open the output file $f" >&2; exit 1; '
                f'}}; mkfifo "$d/{stream}"; ( trap \'\' {FORWARDED}; exec tee -a "$f" <"$d/{stream}" >&{fd} ) & '
                f'exec {fd}>"$d/{stream}"')
        lines.append(copy if each else f'if [ "$SLURM_NODEID" = 0 ]; then {copy}; fi')
    return lines


def _timer(name: str, before: float, batch: bool, walltime: float) -> list[str]:
    """Send ``name`` ``before`` seconds before the walltime ends: to the script (``batch``), else to its srun
    steps."""
    at = max(0, int(walltime - before))
    target = 'kill -s {s} "$(cat "$d/pid")"' if batch else \
        'for p in $(cat "$d/steps" 2>/dev/null); do kill -s {s} "$p" 2>/dev/null; done'
    return [f"(sleep {at}; {target.format(s=name)}) & timer=$!"]
