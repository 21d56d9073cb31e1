"""``gpucloud sinfo``: the cluster's nodes as Slurm's ``sinfo`` shows them — a partition per GPU type, nodes
grouped by state (``idle``, ``mix``, ``alloc``, ``drain``/``drng`` for nodes taken down by an operator, ``down``
for lost hosts, ``resv`` inside a reservation's window), compressed node lists; ``-N`` (per node), ``-s``
(A/I/O/T), ``-R`` (why nodes are down), ``-p``, ``-t``, ``--format``."""

from __future__ import annotations

import sys
import time

from gpucloud.cli import slurm_format as sf
from gpucloud.cli.command import JSON, Arg, Group, Namespace
from gpucloud.cli.output import print_json
from gpucloud.cli.slurm_command import NOHEADER, names, register
from gpucloud.cli.slurm_time import format_slurm_time
from gpucloud.sdk.client import Client

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()

DEFAULT = "%9P %.5a %.10l %.6D %.6t %N"
NODES = "%N %.6D %9P %.6t"
SUMMARY = "%9P %.5a %.10l %.16F %N"
REASONS = "%40E %N"
STATE_LONG = {"idle": "idle", "mix": "mixed", "alloc": "allocated", "drain": "drained", "drng": "draining",
              "down": "down", "resv": "reserved"}


def node_state(node: dict[str, Any], now: float) -> str:
    busy = sum(1 for g in node["gpus"] if g["busy"])
    if node.get("state") == "down":
        if "lost" in (node.get("state_reason") or ""):
            return "down"
        return "drng" if busy else "drain"
    resv = node.get("reservation")
    if not busy and resv and resv.get("start", now + 1) <= now < resv.get("end", now):
        return "resv"
    return "idle" if not busy else "alloc" if busy == len(node["gpus"]) else "mix"


def groups(cluster: dict[str, Any], key: Any) -> list[dict[str, Any]]:
    """Rows of nodes that share ``key(node)``, in the cluster's order: each with its nodes."""
    out: dict[Any, dict[str, Any]] = {}
    now = time.time()
    for block in cluster["blocks"]:
        for rack in block["racks"]:
            for node in rack["nodes"]:
                node = {**node, "_state": node_state(node, now)}
                row = out.setdefault(key(node), {"nodes": [], "limit": cluster.get("max_walltime_s")})
                row["nodes"].append(node)
    return list(out.values())


def _counts(row: dict[str, Any]) -> str:
    """``A/I/O/T``: allocated (or mixed), idle, other (down, draining), total."""
    states = [n["_state"] for n in row["nodes"]]
    a = sum(s in ("alloc", "mix", "drng") for s in states)
    i = sum(s in ("idle", "resv") for s in states)
    return f"{a}/{i}/{len(states) - a - i}/{len(states)}"


CODES: dict[str, tuple[str, Any]] = {
    "P": ("PARTITION", lambda r: r["nodes"][0]["gpu_type"]),
    "a": ("AVAIL", lambda r: "up"),
    "l": ("TIMELIMIT", lambda r: format_slurm_time(r["limit"]) if r["limit"] else "infinite"),
    "D": ("NODES", lambda r: len(r["nodes"])),
    "t": ("STATE", lambda r: r["nodes"][0]["_state"]),
    "T": ("STATE", lambda r: STATE_LONG[r["nodes"][0]["_state"]]),
    "N": ("NODELIST", lambda r: sf.hostlist(n["name"] for n in r["nodes"])),
    "G": ("GRES", lambda r: f"gpu:{r['nodes'][0]['gpu_type']}:{len(r['nodes'][0]['gpus'])}"),
    "F": ("NODES(A/I/O/T)", _counts),
    "E": ("REASON", lambda r: r["nodes"][0].get("state_reason") or "none"),
    "C": ("CPUS(A/I/O/T)", lambda r: "N/A"),
    "m": ("MEMORY", lambda r: "N/A"),
}


@register(
    commands, "sinfo",
    Arg("-N", "--Node", dest="per_node", action="store_true", help="One line per node."),
    Arg("-s", "--summarize", action="store_true", help="Per partition: nodes allocated/idle/other/total."),
    Arg("-R", "--list-reasons", action="store_true", help="The nodes taken down, and why."),
    Arg("-p", "--partition", help="Only these GPU types (comma-separated)."),
    Arg("-t", "--states", help="Only nodes in these states: idle, mix, alloc, drain, drng, down, resv."),
    Arg("-o", "--format", help=f"Output format, Slurm's %% codes (default {DEFAULT.replace('%', '%%')!r})."),
    NOHEADER, JSON,
)
def sinfo(a: Namespace) -> None:
    """Show the cluster's nodes by GPU type (partition) and state, as Slurm's sinfo does."""
    with Client() as client:
        cluster = client.get("/cluster")
    if a.as_json:
        print_json(cluster)
        return
    wanted_types = [p.lower() for p in names(a.partition)]
    wanted_states = [s.lower() for s in names(a.states)]
    fmt = a.format or (NODES if a.per_node else SUMMARY if a.summarize else REASONS if a.list_reasons else DEFAULT)
    if a.per_node:
        rows = groups(cluster, lambda n: n["name"])
    elif a.summarize:
        rows = groups(cluster, lambda n: n["gpu_type"])
    else:
        rows = groups(cluster, lambda n: (n["gpu_type"], n["_state"], n.get("state_reason") if a.list_reasons
                                          else None))
    rows = [r for r in rows if _kept(r, wanted_types, wanted_states, a.list_reasons)]
    prefix, columns = sf.percent_format(fmt, CODES, "--format")
    for line in sf.render(prefix, columns, rows, not a.noheader):
        sys.stdout.write(line + "\n")


def _kept(row: dict[str, Any], types: list[str], states: list[str], reasons: bool) -> bool:
    node = row["nodes"][0]
    kind = node["gpu_type"].lower()
    if types and not any(kind == t or kind.split("-")[0] == t for t in types):
        return False
    if states and node["_state"] not in states and STATE_LONG[node["_state"]] not in states:
        return False
    return not reasons or node.get("state") == "down"
