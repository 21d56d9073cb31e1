"""The ``service`` group: create, list, scale and delete services whose replicas follow a demand.

They talk to ``/api/v1/services``; the server decides who may do what (operators and the org's admins manage a
service, its org's members see it). See docs/services.md.
"""

from __future__ import annotations

import json

from gpucloud.cli.command import JSON, Arg, Formatter, Group, Namespace, Parser, int_range
from gpucloud.cli.jobs import command_of, parse_env
from gpucloud.cli.output import echo, print_json, print_table
from gpucloud.errors import InputError
from gpucloud.sdk.client import Client, seg

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()
service = commands.group("service", "Services whose replicas follow a demand: create, list, scale, delete.")

NAME = Arg("name", metavar="NAME", help="The service.")
COLUMNS = ("NAME", "CLASS", "ORG", "REPLICA", "SITES", "WANTED", "RUNNING", "DEMAND")


def _demand(d: dict[str, Any]) -> str:
    if "replicas" in d:
        return f"fixed {d['replicas']}"
    return "weekly schedule" if "weekly" in d else "curve"


def _rows(items: list[dict[str, Any]]) -> list[list[object]]:
    return [[s["name"], s["class"], s["org"], f"{s['gpus_per_replica']}×{s['gpu_type']}", ",".join(s["sites"]),
             "-" if s["wanted"] is None else s["wanted"], s["replicas"], _demand(s["demand"])] for s in items]


def _show(s: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(s)
    else:
        print_table(COLUMNS, _rows([s]))


def read_demand(path: str) -> dict[str, Any]:
    """A demand file: JSON or YAML holding the ``demand`` mapping (``replicas``, ``weekly`` or ``curve``), or a
    document with a ``demand`` key."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise InputError("--demand", f"cannot read file: {exc.strerror}", path) from None
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise InputError("--demand", "neither JSON nor YAML", path) from None
    if isinstance(data, dict) and "demand" in data:
        data = data["demand"]
    if not isinstance(data, dict):
        raise InputError("--demand", "must hold a mapping (replicas, weekly or curve)", path)
    return data


@service.command("list", JSON)
def service_list(a: Namespace) -> None:
    """Services of your org (operators: all), with the replicas wanted now and running."""
    with Client() as client:
        items = client.get("/services")
    if a.as_json:
        print_json(items)
        return
    print_table(COLUMNS, _rows(items), empty="no services")


CREATE = (
    NAME,
    Arg("--class", dest="cls", choices=("ran", "inference"), required=True,
        help="ran: never preempted, served first; inference: preemptible only by ran."),
    Arg("--gpus", type=int_range(1, 1024), required=True, help="GPUs per replica (on one node)."),
    Arg("--gpu-type", required=True, help="e.g. GB200-186GB."),
    Arg("--site", action="append", required=True, help="A block, rack or node the replicas may use; repeatable."),
    Arg("--replicas", type=int_range(0), help="A fixed replica count (or give --demand)."),
    Arg("--demand", metavar="FILE", help="A demand file (JSON or YAML): weekly schedule or curve."),
    Arg("--lead", type=float, default=0.0, help="Seconds a replica starts before the demand needs it."),
    Arg("--grace", type=float, default=10.0, help="Seconds between a replica's SIGTERM and SIGKILL."),
    Arg("--env", "-e", action="append", default=[], metavar="KEY=VALUE", help="An environment variable."),
    Arg("--cwd", default="", help="Working directory of the replicas."),
    Arg("--org", help="The org (operators)."),
    Arg("--project", help="The project its replicas run in (default: default)."),
    JSON,
)


def _documented(args: tuple[Arg, ...]) -> list[Arg]:
    """The options of ``args`` for ``--help`` only (the raw command parses its words itself)."""
    return [Arg(*x.flags, **{k: v for k, v in x.options.items() if k != "required"})
            for x in args if x.flags[0].startswith("-")]


@service.command(
    "create", *_documented(CREATE), raw=True,
    epilog="usage: gpucloud service create NAME OPTIONS -- COMMAND ...\n"
           "example: gpucloud service create ran-tokyo --class ran --gpus 4 --gpu-type GB200-186GB --site tokyo "
           "--demand ran-week.yaml --lead 300 -- ./ran-du",
)
def service_create(a: Namespace) -> None:
    """Create a service; its replicas start as the core places them. Its command comes after --."""
    words = a.words[1:] if a.words[:1] == ["--"] else a.words
    cut = words.index("--") if "--" in words else len(words)
    parser = Parser(prog="gpucloud service create", formatter_class=Formatter, allow_abbrev=False)
    for arg in CREATE:
        parser.add_argument(*arg.flags, **arg.options)
    a = parser.parse_args(words[:cut])
    a.command = words[cut + 1:]
    if (a.replicas is None) == (a.demand is None):
        raise InputError("--replicas", "give either --replicas N or --demand FILE")
    demand = {"replicas": a.replicas} if a.replicas is not None else read_demand(a.demand)
    body: dict[str, Any] = {"name": a.name, "class": a.cls, "gpus_per_replica": a.gpus, "gpu_type": a.gpu_type,
                            "sites": a.site, "lead_s": a.lead, "grace_s": a.grace, "demand": demand,
                            "argv": command_of(a.command), "env": parse_env(a.env), "cwd": a.cwd}
    if a.org is not None:
        body["org"] = a.org
    if a.project is not None:
        body["project"] = a.project
    with Client() as client:
        _show(client.post("/services", body), a.as_json)


@service.command("scale", NAME, Arg("replicas", type=int_range(0), metavar="N", help="The replicas wanted."), JSON)
def service_scale(a: Namespace) -> None:
    """Push a replica count: the service's demand becomes N."""
    with Client() as client:
        _show(client.post(f"/services/{seg(a.name)}/scale", {"replicas": a.replicas}), a.as_json)


@service.command("delete", NAME, JSON)
def service_delete(a: Namespace) -> None:
    """Delete a service; its replicas are stopped."""
    with Client() as client:
        client.delete(f"/services/{seg(a.name)}")
    if a.as_json:
        print_json({"deleted": a.name})
    else:
        echo(f"deleted service {a.name}")
