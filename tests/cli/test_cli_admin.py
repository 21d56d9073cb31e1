"""Account and operator commands against a real server: login, whoami, orgs, projects, users, tokens, quotas."""

from __future__ import annotations

import json
import stat

from cli_world import Cli


def test_login_stores_url_and_token_0600(cli: Cli) -> None:
    result = cli.ok("login", "--url", cli.server.url, "--token", cli.server.operator_token)
    assert "logged in" in result.stdout and "admin (operator)" in result.stdout
    stored = json.loads(cli.config.read_text())
    assert stored == {"url": cli.server.url, "token": cli.server.operator_token}
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    me = cli.json("whoami")  # from the config file alone
    assert (me["name"], me["role"], me["org"]) == ("admin", "operator", None)
    assert "admin (operator)" in cli.ok("whoami").stdout


def test_env_overrides_the_config(world: Cli) -> None:
    world.ok("login", "--url", world.server.url, "--token", world.server.operator_token)
    assert world.json("whoami", user="alice")["name"] == "alice"  # GPUCLOUD_URL / GPUCLOUD_TOKEN win
    assert world.json("whoami")["name"] == "admin"


def test_login_with_a_bad_token_stores_nothing(cli: Cli) -> None:
    result = cli.run("login", "--url", cli.server.url, "--token", "gpc_nope")
    assert result.exit_code != 0 and "not authenticated" in result.stderr
    assert not cli.config.exists()


def test_not_logged_in(cli: Cli) -> None:
    result = cli.run("jobs")
    assert result.exit_code == 2 and "not logged in" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_config_is_one_line(cli: Cli) -> None:
    cli.config.parent.mkdir(parents=True)
    cli.config.write_text("{not json")
    result = cli.run("whoami")
    assert result.exit_code == 2 and str(cli.config) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_connection_refused_names_the_url(cli: Cli) -> None:
    url = "http://127.0.0.1:9"
    for args in (["jobs"], ["submit", "--", "true"], ["cluster"]):
        result = cli.run(*args, env={"GPUCLOUD_URL": url, "GPUCLOUD_TOKEN": "gpc_x"})
        lines = result.stderr.strip().splitlines()
        assert result.exit_code != 0 and len(lines) == 1, result.stderr
        assert url in lines[0] and "cannot reach" in lines[0]


def test_orgs_users_and_projects(world: Cli) -> None:
    assert [o["name"] for o in world.json("org", "list", user="admin")] == ["alpha", "beta"]
    assert [o["name"] for o in world.json("org", "list", user="alice")] == ["alpha"]
    assert "alpha" in world.ok("org", "list", user="admin").stdout
    assert world.json("org", "set-weight", "alpha", "2.5", user="admin")["weight"] == 2.5
    dup = world.run("org", "create", "alpha", user="admin")
    assert (dup.exit_code != 0 and "conflict" in dup.stderr.lower()) or "exists" in dup.stderr.lower()
    refused = world.run("org", "create", "gamma", user="alice")
    assert refused.exit_code != 0 and "forbidden" in refused.stderr

    assert world.json("project", "create", "vision", user="amin")["org"] == "alpha"
    assert world.json("project", "create", "nlp", "--org", "beta", user="admin")["org"] == "beta"
    assert {p["name"] for p in world.json("project", "list", user="alice")} == {"default", "vision"}
    assert {(p["org"], p["name"]) for p in world.json("project", "list", user="admin")} == {
        ("alpha", "default"), ("alpha", "vision"), ("beta", "default"), ("beta", "nlp")}
    hidden = world.run("project", "list", "--org", "beta", user="alice")
    assert hidden.exit_code != 0 and "not found" in hidden.stderr

    users = {u["name"] for u in world.json("user", "list", user="amin")}
    assert users == {"alice", "amin"}
    member = world.run("user", "list", user="alice")
    assert member.exit_code != 0 and "forbidden" in member.stderr
    created = world.ok("user", "create", "carol", user="amin")  # org-admin: into their own org
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("gpc_") and "shown only this once" in created.stderr
    world.tokens["carol"] = token
    assert world.json("whoami", user="carol")["org"] == "alpha"
    bad = world.run("user", "create", "bad name!", "--org", "alpha", user="admin")
    assert bad.exit_code != 0 and "name" in bad.stderr and "invalid input" in bad.stderr


def test_tokens(world: Cli) -> None:
    created = world.json("token", "create", "-d", "laptop", user="alice")
    assert created["user"] == "alice" and created["token"].startswith("gpc_")
    world.tokens["alice2"] = created["token"]
    listed = world.json("token", "list", user="alice")
    assert created["id"] in {t["id"] for t in listed} and all("token" not in t for t in listed)
    assert "laptop" in world.ok("token", "list", user="alice").stdout
    assert world.json("token", "revoke", str(created["id"]), user="alice")["revoked_at"] is not None
    revoked = world.run("whoami", user="alice2")
    assert revoked.exit_code != 0 and "not authenticated" in revoked.stderr
    other = world.run("token", "create", "--user", "bob", user="alice")
    assert other.exit_code != 0 and "not found" in other.stderr
    assert world.json("token", "create", "--user", "bob", user="admin")["user"] == "bob"


def test_quotas(world: Cli) -> None:
    q = world.json("quota", "set", "alpha", "H100-80GB", "--guaranteed", "4", "--borrow-limit", "2", user="admin")
    assert (q["guaranteed"], q["borrow_limit"]) == (4, 2)
    world.ok("quota", "set", "beta", "H100-80GB", "--guaranteed", "2", user="admin")
    assert {(x["org"], x["borrow_limit"]) for x in world.json("quota", "list", user="admin")} == {
        ("alpha", 2), ("beta", None)}
    assert [x["org"] for x in world.json("quota", "list", user="amin")] == ["alpha"]
    assert "unlimited" in world.ok("quota", "list", "beta", user="admin").stdout
    refused = world.run("quota", "set", "alpha", "H100-80GB", "--guaranteed", "8", user="amin")
    assert refused.exit_code != 0 and "forbidden" in refused.stderr
    unknown = world.run("quota", "set", "alpha", "Z80", "--guaranteed", "1", user="admin")
    assert unknown.exit_code != 0 and "gpu_type" in unknown.stderr
    bad = world.run("quota", "set", "alpha", "H100-80GB", "--guaranteed", "1", "--borrow-limit", "lots",
                    user="admin")
    assert bad.exit_code == 2 and "--borrow-limit" in bad.stderr
    world.ok("quota", "delete", "alpha", "H100-80GB", user="admin")
    assert [x["org"] for x in world.json("quota", "list", user="admin")] == ["beta"]


def test_cluster_reload(world: Cli) -> None:
    out = world.json("cluster-reload", user="admin")
    assert (out["total_gpus"], out["nodes"]) == (8, 2)
    assert "reloaded cluster" in world.ok("cluster-reload", user="admin").stdout
    refused = world.run("cluster-reload", user="alice")
    assert refused.exit_code != 0 and "forbidden" in refused.stderr
