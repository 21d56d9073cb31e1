"""``gpucloud cluster``: a text map of the GPUs by block / rack / node and which org holds each.

One line per node (or per rack with ``--per-rack``) with one cell per GPU: the letter of the org whose job
holds it (coloured on a terminal), ``#`` for a GPU held by a job you may not see, ``.`` for an idle one;
a legend follows. Lines are wrapped to the terminal's width. ``--json`` prints the server's cluster document.

The cluster document names the holding job only when the caller may see it; the org of each such job comes
from listing the caller's visible jobs in the holding states.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import typer
from rich.text import Text

from gpucloud.cli.client import Client, connect
from gpucloud.cli.errors import handle_errors
from gpucloud.cli.output import JsonOption, console, print_json

IDLE = "."
HIDDEN = "#"
HOLDING_STATES = ("admitted", "running", "preempting")
PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta", "bright_green",
           "bright_yellow", "bright_blue", "bright_red")
_SPARE = string.ascii_uppercase + string.ascii_lowercase + string.digits


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
    owners: dict[int, str] = {}
    for state in HOLDING_STATES:
        cursor: int | None = None
        while True:
            page = client.get("/jobs", state=state, limit=1000, cursor=cursor)
            owners.update({int(j["id"]): str(j["org"]) for j in page["items"]})
            cursor = page["next_cursor"]
            if cursor is None:
                break
    return owners


def _cells(gpus: list[dict[str, Any]], owners: Mapping[int, str], letters: Mapping[str, str],
           styles: Mapping[str, str]) -> Text:
    text = Text()
    for gpu in gpus:
        if not gpu["busy"]:
            text.append(IDLE, style="dim")
            continue
        org = owners.get(gpu["job_id"]) if gpu.get("job_id") is not None else None
        if org is None:
            text.append(HIDDEN, style="bold")
        else:
            text.append(letters[org], style=f"bold {styles[org]}")
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
                  style="bold")]
    names = [n["name"] for b in cluster["blocks"] for r in b["racks"] for n in r["nodes"]]
    rack_names = [r["name"] for b in cluster["blocks"] for r in b["racks"]]
    label_width = max((len(x) for x in (rack_names if per_rack else names)), default=0)
    for block in cluster["blocks"]:
        lines.append(Text(f"block {block['name']}", style="bold"))
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
        legend.append(letters[org], style=f"bold {styles[org]}")
        legend.append(f" {org} ({held[org]})  ")
    legend.append(f"{HIDDEN} held by a job you may not see  {IDLE} idle")
    lines.append(legend)
    return lines


@handle_errors
def cluster(
    per_rack: Annotated[bool, typer.Option("--per-rack", help="One line per rack instead of per node.")] = False,
    as_json: JsonOption = False,
) -> None:
    """A map of the cluster's GPUs by block, rack and node, and which org holds each."""
    with connect() as client:
        doc = client.get("/cluster")
        if as_json:
            print_json(doc)
            return
        visible = any(g.get("job_id") is not None for b in doc["blocks"] for r in b["racks"] for n in r["nodes"]
                      for g in n["gpus"])
        owners = job_owners(client) if visible else {}
    out = console()
    for line in render_map(doc, owners, width=out.width, per_rack=per_rack):
        out.print(line, overflow="ignore", crop=False)


def register(app: typer.Typer) -> None:
    """Add ``cluster`` to ``app``."""
    app.command("cluster")(cluster)
