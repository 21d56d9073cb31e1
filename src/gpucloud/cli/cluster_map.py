"""``gpucloud cluster``: a text map of the GPUs by block / rack / node and which org holds each; and
``gpucloud cluster from-ray``, a cluster file from a running Ray cluster.

One line per node (or per rack with ``--per-rack``) with one cell per GPU: the letter of the org whose job
holds it (coloured on a terminal), ``#`` for a GPU held by a job you may not see, ``.`` for an idle one;
a legend follows. On a terminal lines are wrapped to its width; into a pipe or a file they are not.
``--json`` prints the server's cluster document.

The cluster document names the holding job only when the caller may see it; the org of each such job comes
from listing the caller's visible jobs in the holding states.
"""

from __future__ import annotations

import string
import sys
from collections import Counter
from collections.abc import Iterable, Mapping

from gpucloud.cli.command import JSON, Arg, Group, Namespace
from gpucloud.cli.output import Text, echo, print_json, terminal_width
from gpucloud.sdk.client import Client

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

IDLE = "."
HIDDEN = "#"
HOLDING_STATES = ("admitted", "running", "preempting")
PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta", "bright_green",
           "bright_yellow", "bright_blue", "bright_red")
_SPARE = string.ascii_uppercase + string.ascii_lowercase + string.digits
#: The width of a map that is not wrapped (a pipe or a file).
UNWRAPPED = 1 << 30

commands = Group()
cluster_group = commands.group("cluster", "A map of the cluster's GPUs by block, rack and node, and which org "
                                          "holds each.")


@cluster_group.command(
    "from-ray",
    Arg("--address", default="auto", help="The Ray cluster's address (default: auto, the one this host is in)."),
    Arg("--out", help="Write the cluster file here (default: print it)."),
    Arg("--name", default="ray", help="The cluster's name in the file (default: ray)."),
    Arg("--gpu-type", default="H100-80GB", help="For nodes whose accelerator Ray does not know (default H100-80GB)."),
    JSON,
)
def from_ray(a: Namespace) -> None:
    """Write a cluster file from a running Ray cluster: its nodes with GPUs, their GPU counts and accelerator
    types, racks and blocks from node labels (see docs/ray.md); ready for ``gpucloud server --cluster``."""
    from gpucloud.service.executors.ray_discovery import cluster_from_ray

    found = cluster_from_ray(a.address, a.name, a.gpu_type)
    if a.as_json:
        print_json({"nodes": found.nodes, "gpus": found.gpus, "warnings": found.warnings, "cluster": found.text})
        return
    for warning in found.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if a.out:
        with open(a.out, "w", encoding="utf-8") as out:
            out.write(found.text)
        echo(f"wrote {a.out}: {found.nodes} nodes, {found.gpus} GPUs")
    else:
        sys.stdout.write(found.text)


def org_letters(orgs: Iterable[str]) -> dict[str, str]:
    """A distinct letter per org: its own initial (or another of its letters) where free, else a spare one."""
    letters: dict[str, str] = {}
    used: set[str] = set()
    for org in sorted(set(orgs)):
        wanted = [c.upper() for c in org if c.isalnum()] + list(_SPARE)
        letter = next((c for c in wanted if c not in used), "?")
        letters[org] = letter
        used.add(letter)
    return letters


def job_owners(client: Client) -> dict[int, str]:
    """``{job id: org}`` of every job holding GPUs that the caller may see."""
    return {int(j["id"]): str(j["org"]) for page in client.job_pages(state=list(HOLDING_STATES), page_size=1000)
            for j in page["items"]}


def _cells(gpus: list[dict[str, Any]], owners: Mapping[int, str], letters: Mapping[str, str],
           styles: Mapping[str, str]) -> Text:
    text = Text()
    for gpu in gpus:
        if not gpu["busy"]:
            text.append(IDLE, "dim")
            continue
        org = owners.get(gpu["job_id"]) if gpu.get("job_id") is not None else None
        if org is None:
            text.append(HIDDEN, "bold")
        else:
            text.append(letters[org], f"bold {styles[org]}")
    return text


def _wrap(label: str, label_width: int, groups: list[Text], width: int) -> list[Text]:
    """``label`` then the groups separated by a space, wrapped under the first group's column."""
    indent = label_width + 2
    room = max(8, width - indent)
    lines: list[Text] = []
    line = Text(label.ljust(label_width) + "  ")
    used = 0
    for group in groups:
        for piece in (group[i:i + room] for i in range(0, max(1, len(group)), room)):
            need = len(piece) + (1 if used else 0)
            if used and used + need > room:
                lines.append(line)
                line, used = Text(" " * indent), 0
            if used:
                line.append(" ")
                used += 1
            line.append_text(piece)
            used += len(piece)
    lines.append(line)
    return lines


def render_map(cluster: Mapping[str, Any], owners: Mapping[int, str], *, width: int = 100,
               per_rack: bool = False) -> list[Text]:
    """The map's lines: a header, the blocks with their racks and nodes, and the legend."""
    held = Counter(owners[g["job_id"]] for b in cluster["blocks"] for r in b["racks"] for n in r["nodes"]
                   for g in n["gpus"] if g["busy"] and g.get("job_id") in owners)
    letters = org_letters(held)
    styles = {org: PALETTE[i % len(PALETTE)] for i, org in enumerate(sorted(letters))}
    types = ", ".join(f"{t['name']} {t['busy']}/{t['total']}" for t in cluster["gpu_types"])
    lines = [Text(f"cluster {cluster['name']}: {cluster['busy_gpus']}/{cluster['total_gpus']} GPUs busy ({types})",
                  "bold")]
    names = [n["name"] for b in cluster["blocks"] for r in b["racks"] for n in r["nodes"]]
    rack_names = [r["name"] for b in cluster["blocks"] for r in b["racks"]]
    label_width = max((len(x) for x in (rack_names if per_rack else names)), default=0)
    for block in cluster["blocks"]:
        lines.append(Text(f"block {block['name']}", "bold"))
        for rack in block["racks"]:
            groups = [_cells(n["gpus"], owners, letters, styles) for n in rack["nodes"]]
            if per_rack:
                lines.extend(_wrap(rack["name"], label_width, groups, width - 2))
                continue
            lines.append(Text(f"  rack {rack['name']}"))
            for node, group in zip(rack["nodes"], groups, strict=True):
                for line in _wrap(node["name"], label_width, [group], width - 4):
                    lines.append(Text("    ") + line)
    legend = Text("legend: ")
    for org in sorted(letters):
        legend.append(letters[org], f"bold {styles[org]}")
        legend.append(f" {org} ({held[org]})  ")
    legend.append(f"{HIDDEN} held by a job you may not see  {IDLE} idle")
    lines.append(legend)
    return lines


@cluster_group.default(Arg("--per-rack", action="store_true", help="One line per rack instead of per node."), JSON)
def cluster(a: Namespace) -> None:
    """A map of the cluster's GPUs by block, rack and node, and which org holds each."""
    with Client() as client:
        doc = client.get("/cluster")
        if a.as_json:
            print_json(doc)
            return
        visible = any(g.get("job_id") is not None for b in doc["blocks"] for r in b["racks"] for n in r["nodes"]
                      for g in n["gpus"])
        owners = job_owners(client) if visible else {}
    for line in render_map(doc, owners, width=terminal_width() or UNWRAPPED, per_rack=a.per_rack):
        echo(line)
