"""Reservation and node commands: the ``reservation`` group (list, request, approve, reject, cancel, capacity)
and the ``node`` group (down, up).

They talk to ``/api/v1/reservations`` and ``/api/v1/cluster/nodes``; the server decides who may do what
(org-admins request and cancel for their org, operators approve, reject and mark nodes down).
"""

from __future__ import annotations

from gpucloud.cli.command import JSON, Arg, Group, Namespace, int_range, whole
from gpucloud.cli.output import echo, fmt_time, print_json, print_table
from gpucloud.sdk.client import Client, seg

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()
reservation = commands.group("reservation", "Reserve whole nodes for a time window: list, request, approve, "
                                            "reject, cancel, capacity.")
node = commands.group("node", "Take nodes out of service and back (operator): down, up.")

TIME_HELP = "epoch seconds or ISO 8601, e.g. 2026-12-01T09:00+09:00 (no zone: UTC)"
RID = Arg("rid", metavar="ID", type=whole, help="The reservation id.")
NODE = Arg("name", metavar="NODE", help="The node.")


def _rows(items: list[dict[str, Any]]) -> list[list[object]]:
    return [[r["id"], r["name"], r["org"], f"{r['nodes']}×{r['gpu_type']}", fmt_time(r["start"]),
             fmt_time(r["end"]), r["state"], r["price"] or ""] for r in items]


#: the node names, project and refund are in ``--json``
COLUMNS = ("ID", "NAME", "ORG", "NODES", "START", "END", "STATE", "PRICE")


def _show(r: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(r)
    else:
        print_table(COLUMNS, _rows([r]))


@reservation.command("list", JSON)
def reservation_list(a: Namespace) -> None:
    """Reservations of your org (operators: all), latest window first."""
    with Client() as client:
        items = client.get("/reservations")
    if a.as_json:
        print_json(items)
        return
    print_table(COLUMNS, _rows(items), empty="no reservations")


@reservation.command(
    "request",
    Arg("--gpu-type", required=True, help="e.g. H100-80GB."),
    Arg("--nodes", type=int_range(1), required=True, help="Whole nodes to reserve."),
    Arg("--start", required=True, help=f"Window start: {TIME_HELP}."),
    Arg("--end", required=True, help=f"Window end: {TIME_HELP}."),
    Arg("--name", default="", help="A name jobs can use (default r<id>)."),
    Arg("--org", help="The org (operators)."),
    Arg("--project", help="The project that pays (default: default)."),
    Arg("--note", default="", help="A note for the operator."),
    JSON,
)
def reservation_request(a: Namespace) -> None:
    """Ask for nodes for a window (org-admin). Charged in full when approved, at the tariff's reserved rate."""
    body: dict[str, Any] = {"gpu_type": a.gpu_type, "nodes": a.nodes, "start": a.start, "end": a.end,
                            "name": a.name, "note": a.note}
    if a.org is not None:
        body["org"] = a.org
    if a.project is not None:
        body["project"] = a.project
    with Client() as client:
        _show(client.post("/reservations", body), a.as_json)


def _decide(action: str, a: Namespace, body: dict[str, Any] | None = None) -> None:
    with Client() as client:
        _show(client.post(f"/reservations/{a.rid}/{action}", body), a.as_json)


@reservation.command("approve", RID, JSON)
def reservation_approve(a: Namespace) -> None:
    """Approve a request (operator): its nodes are chosen and its price charged."""
    _decide("approve", a)


@reservation.command("reject", RID, Arg("--note", default="", help="Why."), JSON)
def reservation_reject(a: Namespace) -> None:
    """Reject a request (operator)."""
    _decide("reject", a, {"note": a.note})


@reservation.command("cancel", RID, JSON)
def reservation_cancel(a: Namespace) -> None:
    """Cancel (org-admin, operator): refunded in full before the cut-off; its waiting jobs are cancelled."""
    _decide("cancel", a)


@reservation.command(
    "capacity",
    Arg("--start", required=True, help=f"Window start: {TIME_HELP}."),
    Arg("--end", required=True, help=f"Window end: {TIME_HELP}."),
    Arg("--gpu-type", help="Only this GPU type."),
    JSON,
)
def reservation_capacity(a: Namespace) -> None:
    """How many whole nodes of each GPU type could be reserved for a window now."""
    with Client() as client:
        caps = client.get("/reservations/capacity", start=a.start, end=a.end, gpu_type=a.gpu_type)
    if a.as_json:
        print_json(caps)
        return
    print_table(("GPU TYPE", "GPUS/NODE", "NODES", "FREE"),
                [[c["gpu_type"], c["node_gpus"], c["nodes"], c["free"]] for c in caps], empty="no GPU types")


def _node(name: str, state: str, reason: str, as_json: bool) -> None:
    with Client() as client:
        out = client.put(f"/cluster/nodes/{seg(name)}/state", {"state": state, "reason": reason})
    if as_json:
        print_json(out)
    else:
        echo(f"{out['node']}: {out['state']}" + (f" ({out['reason']})" if out["reason"] else ""))


@node.command("down", NODE, Arg("--reason", default="", help="Shown on the map."), JSON)
def node_down(a: Namespace) -> None:
    """Take a node out of service: no new job starts there (running jobs run on)."""
    _node(a.name, "down", a.reason, a.as_json)


@node.command("up", NODE, JSON)
def node_up(a: Namespace) -> None:
    """Put a node back in service."""
    _node(a.name, "up", "", a.as_json)
