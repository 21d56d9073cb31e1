"""Operator and org-admin commands: the ``org``, ``project``, ``user``, ``token`` and ``quota`` groups, and
``cluster-reload``.

The server enforces who may do what (operators everything; org-admins their org's users, projects and tokens;
members their own tokens); these commands only send the request and show the answer or its error.
"""

from __future__ import annotations

import argparse

from gpucloud.cli.command import JSON, Arg, Group, Namespace, int_range, number, whole
from gpucloud.cli.output import echo, fmt_time, print_json, print_table
from gpucloud.errors import InputError
from gpucloud.sdk.client import Client, seg

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()
org = commands.group("org", "Organisations (tenants): create (operator) and list.")
project = commands.group("project", "Projects inside an org: create and list.")
user = commands.group("user", "Users: create (with their first token) and list.")
token = commands.group("token", "API tokens: create (shown once), list, revoke.")
quota = commands.group("quota", "Guaranteed GPUs per org and GPU type: set, list, delete (operator).")

ORG = Arg("--org", help="The org (default: yours).")


def my_org(client: Client, name: str | None) -> str | None:
    """``name``, else the caller's own org (None for an operator, who has none)."""
    if name is not None:
        return name
    mine = client.get("/me").get("org")
    return None if mine is None else str(mine)


# --- orgs ----------------------------------------------------------------------------------------------------


@org.command(
    "create", Arg("name", help="The org's name."),
    Arg("--weight", type=number, default=1.0, help="Its fair-share weight (default 1)."),
    Arg("--kind", default="", help="university, institute, company, ... (subsidy programmes may be open to a kind)."),
    JSON,
)
def org_create(a: Namespace) -> None:
    """Create an org (operator); it gets a project named default."""
    with Client() as client:
        out = client.post("/orgs", {"name": a.name, "weight": a.weight, "kind": a.kind})
    if a.as_json:
        print_json(out)
    else:
        echo(f"created org {out['name']} (weight {out['weight']:g})")


@org.command("list", JSON)
def org_list(a: Namespace) -> None:
    """List the orgs you may see (operators: all; others: their own)."""
    with Client() as client:
        orgs = client.get("/orgs")
    if a.as_json:
        print_json(orgs)
        return
    print_table(("NAME", "WEIGHT", "CREATED"), [[o["name"], f"{o['weight']:g}", fmt_time(o["created_at"])]
                                                for o in orgs], empty="no orgs")


@org.command("set-weight", Arg("name", help="The org's name."),
             Arg("weight", type=number, help="The new fair-share weight (> 0)."), JSON)
def org_set_weight(a: Namespace) -> None:
    """Change an org's fair-share weight (operator)."""
    with Client() as client:
        out = client.patch(f"/orgs/{seg(a.name)}", {"weight": a.weight})
    if a.as_json:
        print_json(out)
    else:
        echo(f"org {out['name']}: weight {out['weight']:g}")


# --- projects ------------------------------------------------------------------------------------------------


@project.command("create", Arg("name", help="The project's name."), ORG, JSON)
def project_create(a: Namespace) -> None:
    """Create a project in an org (its org-admins and operators)."""
    with Client() as client:
        where = my_org(client, a.org)
        if where is None:
            raise InputError("--org", "operators belong to no org: name one")
        out = client.post(f"/orgs/{seg(where)}/projects", {"name": a.name})
    if a.as_json:
        print_json(out)
    else:
        echo(f"created project {out['name']} in org {out['org']}")


@project.command("list", Arg("--org", help="The org (default: yours; operators: all)."), JSON)
def project_list(a: Namespace) -> None:
    """List the projects of an org (operators without --org: of every org)."""
    with Client() as client:
        where = my_org(client, a.org)
        names = [where] if where is not None else [o["name"] for o in client.get("/orgs")]
        projects = [p for name in names for p in client.get(f"/orgs/{seg(name)}/projects")]
    if a.as_json:
        print_json(projects)
        return
    print_table(("ORG", "NAME", "CREATED"), [[p["org"], p["name"], fmt_time(p["created_at"])] for p in projects],
                empty="no projects")


# --- users ---------------------------------------------------------------------------------------------------


@user.command(
    "create", Arg("name", help="The user's name."),
    Arg("--role", default="member", help="member (default), org-admin or operator."),
    Arg("--org", help="Their org (org-admins: default their own)."),
    Arg("--token", action=argparse.BooleanOptionalAction, default=True,
        help="Also create their first token (default: yes)."),
    JSON,
)
def user_create(a: Namespace) -> None:
    """Create a user and print their first token (shown only this once)."""
    body: dict[str, Any] = {"name": a.name, "role": a.role}
    if a.org is not None:
        body["org"] = a.org
    with Client() as client:
        created_user = client.post("/users", body)
        created = client.post("/tokens", {"user": created_user["name"], "description": "created with the user"}) \
            if a.token else None
    if a.as_json:
        print_json({"user": created_user, "token": created})
        return
    where = f", org {created_user['org']}" if created_user["org"] else ""
    echo(f"created user {created_user['name']} ({created_user['role']}{where})")
    if created is not None:
        print_token(created)


@user.command("list", JSON)
def user_list(a: Namespace) -> None:
    """List users (operators: everyone; org-admins: their org)."""
    with Client() as client:
        users = client.get("/users")
    if a.as_json:
        print_json(users)
        return
    print_table(("NAME", "ROLE", "ORG", "CREATED"),
                [[u["name"], u["role"], u["org"] or "", fmt_time(u["created_at"])] for u in users], empty="no users")


# --- tokens --------------------------------------------------------------------------------------------------


def print_token(created: dict[str, Any]) -> None:
    """The note on stderr, the token alone on stdout (so ``TOKEN=$(...)`` keeps only the token)."""
    echo(f"token {created['id']} for {created['user']} (shown only this once; store it now):", err=True)
    echo(created["token"])


@token.command("create", Arg("--user", help="Whose token (default: yours)."),
               Arg("--description", "-d", default="", help="What it is for."), JSON)
def token_create(a: Namespace) -> None:
    """Create a token; it is printed only this once."""
    body: dict[str, Any] = {"description": a.description}
    if a.user is not None:
        body["user"] = a.user
    with Client() as client:
        created = client.post("/tokens", body)
    if a.as_json:
        print_json(created)
    else:
        print_token(created)


@token.command("list", Arg("--user", help="Only this user's tokens."), JSON)
def token_list(a: Namespace) -> None:
    """List tokens (prefixes and dates; never the tokens themselves)."""
    with Client() as client:
        tokens = client.get("/tokens", user=a.user)
    if a.as_json:
        print_json(tokens)
        return
    print_table(("ID", "USER", "PREFIX", "DESCRIPTION", "CREATED", "REVOKED"),
                [[t["id"], t["user"], t["prefix"] + "…", t["description"], fmt_time(t["created_at"]),
                  fmt_time(t["revoked_at"])] for t in tokens], empty="no tokens")


@token.command("revoke", Arg("token_id", metavar="TOKEN_ID", type=whole, help="The token's id (see token list)."),
               JSON)
def token_revoke(a: Namespace) -> None:
    """Revoke a token: it stops working at once."""
    with Client() as client:
        out = client.post(f"/tokens/{a.token_id}/revoke")
    if a.as_json:
        print_json(out)
    else:
        echo(f"revoked token {out['id']} of {out['user']}")


# --- quotas --------------------------------------------------------------------------------------------------


def parse_borrow_limit(text: str | None) -> int | None:
    """``None``/``unlimited`` → None (unlimited borrowing), else a whole number of GPUs."""
    if text is None or text.strip().lower() in ("unlimited", "none", ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError("--borrow-limit", "must be a whole number of GPUs or 'unlimited'", text) from None


@quota.command(
    "set", Arg("org", help="The org."), Arg("gpu_type", metavar="GPU_TYPE", help="The GPU type, e.g. H100-80GB."),
    Arg("--guaranteed", type=int_range(0), required=True, help="GPUs guaranteed to the org."),
    Arg("--borrow-limit", help="Most GPUs it may borrow beyond that (default: unlimited)."),
    JSON,
)
def quota_set(a: Namespace) -> None:
    """Set an org's quota for one GPU type (operator)."""
    body = {"guaranteed": a.guaranteed, "borrow_limit": parse_borrow_limit(a.borrow_limit)}
    with Client() as client:
        out = client.put(f"/orgs/{seg(a.org)}/quotas/{seg(a.gpu_type)}", body)
    if a.as_json:
        print_json(out)
    else:
        echo(f"quota of {out['org']} on {out['gpu_type']}: {quota_text(out)}")


def quota_text(q: dict[str, Any]) -> str:
    limit = "unlimited" if q["borrow_limit"] is None else str(q["borrow_limit"])
    return f"{q['guaranteed']} guaranteed, borrow limit {limit}"


@quota.command("list", Arg("org", nargs="?", help="The org (default: yours; operators: all)."), JSON)
def quota_list(a: Namespace) -> None:
    """List quotas (operators, and org-admins for their org)."""
    with Client() as client:
        where = my_org(client, a.org)
        names = [where] if where is not None else [o["name"] for o in client.get("/orgs")]
        quotas = [q for name in names for q in client.get(f"/orgs/{seg(name)}/quotas")]
    if a.as_json:
        print_json(quotas)
        return
    print_table(("ORG", "GPU TYPE", "GUARANTEED", "BORROW LIMIT"),
                [[q["org"], q["gpu_type"], q["guaranteed"],
                  "unlimited" if q["borrow_limit"] is None else q["borrow_limit"]] for q in quotas], empty="no quotas")


@quota.command("delete", Arg("org", help="The org."), Arg("gpu_type", metavar="GPU_TYPE", help="The GPU type."),
               JSON)
def quota_delete(a: Namespace) -> None:
    """Remove an org's quota for one GPU type (operator)."""
    with Client() as client:
        client.delete(f"/orgs/{seg(a.org)}/quotas/{seg(a.gpu_type)}")
    if a.as_json:
        print_json({"org": a.org, "gpu_type": a.gpu_type, "deleted": True})
    else:
        echo(f"deleted the quota of {a.org} on {a.gpu_type}")


# --- cluster reload ------------------------------------------------------------------------------------------


@commands.command("cluster-reload", JSON)
def cluster_reload(a: Namespace) -> None:
    """Reload the cluster file on the server (operator); an invalid file leaves the old cluster in place."""
    with Client() as client:
        out = client.post("/cluster/reload")
    if a.as_json:
        print_json(out)
        return
    echo(f"reloaded cluster {out['name']}: {out['nodes']} nodes, {out['total_gpus']} GPUs")
    for warning in out["warnings"]:
        echo(f"warning: {warning}", err=True)
