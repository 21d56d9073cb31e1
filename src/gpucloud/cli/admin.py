"""Account and operator commands: ``login``, ``whoami``, and the ``org``, ``project``, ``user``, ``token`` and
``quota`` groups, and ``cluster-reload``.

The server enforces who may do what (operators everything; org-admins their org's users, projects and
tokens; members their own tokens); these commands only send the request and show the answer or its error.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gpucloud.cli.client import Client, config_path, connect, normalize_url, seg, write_config_file
from gpucloud.cli.errors import handle_errors
from gpucloud.cli.output import JsonOption, fmt_time, print_json, print_table
from gpucloud.errors import InputError

org_app = typer.Typer(help="Organisations (tenants): create (operator) and list.", no_args_is_help=True)
project_app = typer.Typer(help="Projects inside an org: create and list.", no_args_is_help=True)
user_app = typer.Typer(help="Users: create (with their first token) and list.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
quota_app = typer.Typer(help="Guaranteed GPUs per org and GPU type: set, list, delete (operator).",
                        no_args_is_help=True)

OrgOpt = Annotated[str | None, typer.Option("--org", help="The org (default: yours).")]


def _my_org(client: Client, org: str | None) -> str | None:
    """``org``, else the caller's own org (None for an operator, who has none)."""
    if org is not None:
        return org
    me: dict[str, Any] = client.get("/me")
    mine = me.get("org")
    return None if mine is None else str(mine)


# --- login / whoami ------------------------------------------------------------------------------------------


@handle_errors
def login(
    url: Annotated[str, typer.Option("--url", envvar="GPUCLOUD_URL", help="The server, e.g. http://host:8080.")],
    token: Annotated[str, typer.Option("--token", envvar="GPUCLOUD_TOKEN", prompt=True, hide_input=True,
                                       help="Your API token (gpc_...).")],
    as_json: JsonOption = False,
) -> None:
    """Check the token against the server and store the URL and token in the config file (mode 0600)."""
    url = normalize_url(url)
    with Client(url, token) as client:
        me = client.get("/me")
    path = write_config_file(url, token)
    if as_json:
        print_json({"url": url, "config": str(path), "me": me})
        return
    typer.echo(f"logged in to {url} as {_who(me)}; saved to {path}")


def _who(me: dict[str, Any]) -> str:
    return f"{me['name']} ({me['role']}" + (f", org {me['org']})" if me.get("org") else ")")


@handle_errors
def whoami(as_json: JsonOption = False) -> None:
    """Show who the stored token belongs to, and at which server."""
    with connect() as client:
        me = client.get("/me")
        url = client.url
    if as_json:
        print_json(me)
        return
    typer.echo(f"{_who(me)} at {url} (config: {config_path()})")


# --- orgs ----------------------------------------------------------------------------------------------------


@org_app.command("create")
@handle_errors
def org_create(
    name: Annotated[str, typer.Argument(help="The org's name.")],
    weight: Annotated[float, typer.Option("--weight", help="Its fair-share weight.")] = 1.0,
    kind: Annotated[str, typer.Option("--kind", help="university, institute, company, ... (subsidy programmes "
                                                     "may be open to a kind).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Create an org (operator); it gets a project named default."""
    with connect() as client:
        org = client.post("/orgs", {"name": name, "weight": weight, "kind": kind})
    if as_json:
        print_json(org)
    else:
        typer.echo(f"created org {org['name']} (weight {org['weight']:g})")


@org_app.command("list")
@handle_errors
def org_list(as_json: JsonOption = False) -> None:
    """List the orgs you may see (operators: all; others: their own)."""
    with connect() as client:
        orgs = client.get("/orgs")
    if as_json:
        print_json(orgs)
        return
    print_table(("NAME", "WEIGHT", "CREATED"), [[o["name"], f"{o['weight']:g}", fmt_time(o["created_at"])]
                                                for o in orgs], empty="no orgs")


@org_app.command("set-weight")
@handle_errors
def org_set_weight(
    name: Annotated[str, typer.Argument(help="The org's name.")],
    weight: Annotated[float, typer.Argument(help="The new fair-share weight (> 0).")],
    as_json: JsonOption = False,
) -> None:
    """Change an org's fair-share weight (operator)."""
    with connect() as client:
        org = client.patch(f"/orgs/{seg(name)}", {"weight": weight})
    if as_json:
        print_json(org)
    else:
        typer.echo(f"org {org['name']}: weight {org['weight']:g}")


# --- projects ------------------------------------------------------------------------------------------------


@project_app.command("create")
@handle_errors
def project_create(name: Annotated[str, typer.Argument(help="The project's name.")], org: OrgOpt = None,
                   as_json: JsonOption = False) -> None:
    """Create a project in an org (its org-admins and operators)."""
    with connect() as client:
        where = _my_org(client, org)
        if where is None:
            raise InputError("--org", "operators belong to no org: name one")
        project = client.post(f"/orgs/{seg(where)}/projects", {"name": name})
    if as_json:
        print_json(project)
    else:
        typer.echo(f"created project {project['name']} in org {project['org']}")


@project_app.command("list")
@handle_errors
def project_list(org: Annotated[str | None, typer.Option("--org", help="The org (default: yours; operators: all).")
                                ] = None, as_json: JsonOption = False) -> None:
    """List the projects of an org (operators without --org: of every org)."""
    with connect() as client:
        where = _my_org(client, org)
        names = [where] if where is not None else [o["name"] for o in client.get("/orgs")]
        projects = [p for name in names for p in client.get(f"/orgs/{seg(name)}/projects")]
    if as_json:
        print_json(projects)
        return
    print_table(("ORG", "NAME", "CREATED"), [[p["org"], p["name"], fmt_time(p["created_at"])] for p in projects],
                empty="no projects")


# --- users ---------------------------------------------------------------------------------------------------


@user_app.command("create")
@handle_errors
def user_create(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    role: Annotated[str, typer.Option("--role", help="member, org-admin or operator.")] = "member",
    org: Annotated[str | None, typer.Option("--org", help="Their org (org-admins: default their own).")] = None,
    token: Annotated[bool, typer.Option("--token/--no-token", help="Also create their first token.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Create a user and print their first token (shown only this once)."""
    body: dict[str, Any] = {"name": name, "role": role}
    if org is not None:
        body["org"] = org
    with connect() as client:
        user = client.post("/users", body)
        created = client.post("/tokens", {"user": user["name"], "description": "created with the user"}) \
            if token else None
    if as_json:
        print_json({"user": user, "token": created})
        return
    where = f", org {user['org']}" if user["org"] else ""
    typer.echo(f"created user {user['name']} ({user['role']}{where})")
    if created is not None:
        _print_token(created)


@user_app.command("list")
@handle_errors
def user_list(as_json: JsonOption = False) -> None:
    """List users (operators: everyone; org-admins: their org)."""
    with connect() as client:
        users = client.get("/users")
    if as_json:
        print_json(users)
        return
    print_table(("NAME", "ROLE", "ORG", "CREATED"),
                [[u["name"], u["role"], u["org"] or "", fmt_time(u["created_at"])] for u in users], empty="no users")


# --- tokens --------------------------------------------------------------------------------------------------


def _print_token(created: dict[str, Any]) -> None:
    typer.echo(f"token {created['id']} for {created['user']} (shown only this once; store it now):", err=True)
    typer.echo(created["token"])


@token_app.command("create")
@handle_errors
def token_create(
    user: Annotated[str | None, typer.Option("--user", help="Whose token (default: yours).")] = None,
    description: Annotated[str, typer.Option("--description", "-d", help="What it is for.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Create a token; it is printed only this once."""
    body: dict[str, Any] = {"description": description}
    if user is not None:
        body["user"] = user
    with connect() as client:
        created = client.post("/tokens", body)
    if as_json:
        print_json(created)
    else:
        _print_token(created)


@token_app.command("list")
@handle_errors
def token_list(user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
               as_json: JsonOption = False) -> None:
    """List tokens (prefixes and dates; never the tokens themselves)."""
    with connect() as client:
        tokens = client.get("/tokens", user=user)
    if as_json:
        print_json(tokens)
        return
    print_table(("ID", "USER", "PREFIX", "DESCRIPTION", "CREATED", "REVOKED"),
                [[t["id"], t["user"], t["prefix"] + "…", t["description"], fmt_time(t["created_at"]),
                  fmt_time(t["revoked_at"])] for t in tokens], empty="no tokens")


@token_app.command("revoke")
@handle_errors
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id (see token list).")],
                 as_json: JsonOption = False) -> None:
    """Revoke a token: it stops working at once."""
    with connect() as client:
        token = client.post(f"/tokens/{token_id}/revoke")
    if as_json:
        print_json(token)
    else:
        typer.echo(f"revoked token {token['id']} of {token['user']}")


# --- quotas --------------------------------------------------------------------------------------------------


def parse_borrow_limit(text: str | None) -> int | None:
    """``None``/``unlimited`` → None (unlimited borrowing), else a non-negative whole number of GPUs."""
    if text is None or text.strip().lower() in ("unlimited", "none", ""):
        return None
    try:
        value = int(text)
    except ValueError:
        raise InputError("--borrow-limit", "must be a whole number of GPUs or 'unlimited'", text) from None
    return value


@quota_app.command("set")
@handle_errors
def quota_set(
    org: Annotated[str, typer.Argument(help="The org.")],
    gpu_type: Annotated[str, typer.Argument(help="The GPU type, e.g. H100-80GB.")],
    guaranteed: Annotated[int, typer.Option("--guaranteed", help="GPUs guaranteed to the org.")],
    borrow_limit: Annotated[str | None, typer.Option(
        "--borrow-limit", help="Most GPUs it may borrow beyond that (default: unlimited).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Set an org's quota for one GPU type (operator)."""
    body = {"guaranteed": guaranteed, "borrow_limit": parse_borrow_limit(borrow_limit)}
    with connect() as client:
        quota = client.put(f"/orgs/{seg(org)}/quotas/{seg(gpu_type)}", body)
    if as_json:
        print_json(quota)
    else:
        typer.echo(f"quota of {quota['org']} on {quota['gpu_type']}: {_quota_text(quota)}")


def _quota_text(q: dict[str, Any]) -> str:
    limit = "unlimited" if q["borrow_limit"] is None else str(q["borrow_limit"])
    return f"{q['guaranteed']} guaranteed, borrow limit {limit}"


@quota_app.command("list")
@handle_errors
def quota_list(org: Annotated[str | None, typer.Argument(help="The org (default: yours; operators: all).")] = None,
               as_json: JsonOption = False) -> None:
    """List quotas (operators, and org-admins for their org)."""
    with connect() as client:
        where = _my_org(client, org)
        names = [where] if where is not None else [o["name"] for o in client.get("/orgs")]
        quotas = [q for name in names for q in client.get(f"/orgs/{seg(name)}/quotas")]
    if as_json:
        print_json(quotas)
        return
    print_table(("ORG", "GPU TYPE", "GUARANTEED", "BORROW LIMIT"),
                [[q["org"], q["gpu_type"], q["guaranteed"],
                  "unlimited" if q["borrow_limit"] is None else q["borrow_limit"]] for q in quotas], empty="no quotas")


@quota_app.command("delete")
@handle_errors
def quota_delete(org: Annotated[str, typer.Argument(help="The org.")],
                 gpu_type: Annotated[str, typer.Argument(help="The GPU type.")]) -> None:
    """Remove an org's quota for one GPU type (operator)."""
    with connect() as client:
        client.delete(f"/orgs/{seg(org)}/quotas/{seg(gpu_type)}")
    typer.echo(f"deleted the quota of {org} on {gpu_type}")


# --- cluster reload ------------------------------------------------------------------------------------------


@handle_errors
def cluster_reload(as_json: JsonOption = False) -> None:
    """Reload the cluster file on the server (operator); an invalid file leaves the old cluster in place."""
    with connect() as client:
        out = client.post("/cluster/reload")
    if as_json:
        print_json(out)
        return
    typer.echo(f"reloaded cluster {out['name']}: {out['nodes']} nodes, {out['total_gpus']} GPUs")
    for warning in out["warnings"]:
        typer.echo(f"warning: {warning}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``login``, ``whoami``, ``cluster-reload`` and the org / project / user / token / quota groups."""
    app.command("login")(login)
    app.command("whoami")(whoami)
    app.command("cluster-reload")(cluster_reload)
    for name, group in (("org", org_app), ("project", project_app), ("user", user_app), ("token", token_app),
                        ("quota", quota_app)):
        app.add_typer(group, name=name)
