"""Changing users through the API (``PATCH /users/{name}``): a role between member and org-admin, deactivation
(their tokens are refused at once, none is issued) and reactivation; who may do it."""

from __future__ import annotations

from api_world import World


def test_role_change_takes_effect_at_once(world: World) -> None:
    assert world.call("alice", "GET", "/api/v1/users").status_code == 403  # a member may not list users
    r = world.call("alpha-admin", "PATCH", "/api/v1/users/alice", {"role": "org-admin"})
    assert r.status_code == 200, r.text
    assert (r.json()["role"], r.json()["active"]) == ("org-admin", True)
    assert world.call("alice", "GET", "/api/v1/me").json()["role"] == "org-admin"  # the cached token too
    assert world.call("alice", "GET", "/api/v1/users").status_code == 200
    assert world.call("admin", "PATCH", "/api/v1/users/alice", {"role": "member"}).json()["role"] == "member"
    assert world.call("alice", "GET", "/api/v1/users").status_code == 403


def test_deactivation_refuses_tokens_until_reactivated(world: World) -> None:
    assert world.call("amy", "GET", "/api/v1/me").status_code == 200
    r = world.call("alpha-admin", "PATCH", "/api/v1/users/amy", {"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert r.json()["deactivated_at"] == world.clock.now
    assert world.call("amy", "GET", "/api/v1/me").status_code == 401
    assert world.call("amy", "POST", "/api/v1/jobs", {"argv": ["true"]}).status_code == 401
    r = world.call("admin", "POST", "/api/v1/tokens", {"user": "amy"})
    assert r.status_code == 409 and "deactivated" in r.json()["detail"]
    listed = {u["name"]: u["active"] for u in world.call("alpha-admin", "GET", "/api/v1/users").json()}
    assert listed == {"alpha-admin": True, "alice": True, "amy": False}
    assert world.call("alpha-admin", "PATCH", "/api/v1/users/amy", {"active": True}).json()["active"] is True
    assert world.call("amy", "GET", "/api/v1/me").status_code == 200


def test_who_may_change_whom(world: World) -> None:
    assert world.call("alice", "PATCH", "/api/v1/users/amy", {"role": "org-admin"}).status_code == 404  # unseen
    assert world.call("alice", "PATCH", "/api/v1/users/alice", {"role": "org-admin"}).status_code == 403
    assert world.call("beta-admin", "PATCH", "/api/v1/users/alice", {"active": False}).status_code == 404
    r = world.call("alpha-admin", "PATCH", "/api/v1/users/alpha-admin", {"active": False})
    assert r.status_code == 409 and "yourself" in r.json()["detail"]
    r = world.call("admin", "PATCH", "/api/v1/users/alice", {"role": "operator"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "role"
    r = world.call("admin", "PATCH", "/api/v1/users/alice", {"role": "boss"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "role"
    r = world.call("admin", "PATCH", "/api/v1/users/admin", {"active": False})
    assert r.status_code == 409
    world.call("admin", "POST", "/api/v1/users", {"name": "ops2", "role": "operator"})
    token = world.call("admin", "POST", "/api/v1/tokens", {"user": "ops2"}).json()["token"]
    world.tokens["ops2"] = token
    assert world.call("ops2", "PATCH", "/api/v1/users/admin", {"active": False}).status_code == 200
    r = world.call("ops2", "PATCH", "/api/v1/users/ops2", {"active": False})
    assert r.status_code == 409  # yourself: an active operator always remains
    assert world.call("admin", "GET", "/api/v1/me").status_code == 401
