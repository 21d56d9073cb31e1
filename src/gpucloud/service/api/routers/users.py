"""``/api/v1/users``: create (operator; org-admins in their own org), list and read (as visible), change a role
or deactivate (:mod:`gpucloud.service.user_admin`)."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.service.api.context import Context
from gpucloud.service.api.convert import user_out
from gpucloud.service.api.schemas import UserCreate, UserOut, UserUpdate
from gpucloud.service.auth import CurrentPrincipal, Forbidden, Principal
from gpucloud.service.store import tenants
from gpucloud.service.store.errors import NotFound
from gpucloud.service.store.models import UserRow
from gpucloud.service.user_admin import update_user as update

router = APIRouter(prefix="/users", tags=["users"])


def visible_user(session: Session, who: Principal, name: str) -> UserRow:
    """The user if the caller may see them (yourself; an org-admin their org; an operator all), else 404."""
    user = tenants.find_user(session, name)
    if user is None or not who.sees_user(user):
        raise NotFound("user", name)
    return user


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, ctx: Context, who: CurrentPrincipal) -> UserOut:
    """Operators create anyone; org-admins create members and org-admins of their own org."""
    if not (who.is_operator or who.is_org_admin):
        raise Forbidden("only operators and org-admins may create users")
    with ctx.sessions.begin() as session:
        org_name = body.org if body.org is not None or who.is_operator else who.org
        if not who.is_operator:
            if body.role == "operator":
                raise Forbidden("only operators may create operators")
            if org_name != who.org:
                raise Forbidden("org-admins may only create users in their own org")
        org = None
        if org_name is not None:
            org = tenants.find_org(session, org_name)
            if org is None:
                raise InputError("org", "unknown org", org_name)
        return user_out(tenants.create_user(session, body.name, body.role, org, ctx.clock()))


@router.get("", response_model=list[UserOut])
def list_users(ctx: Context, who: CurrentPrincipal) -> list[UserOut]:
    """Operators: everyone; org-admins: their org; members: 403."""
    if not (who.is_operator or who.is_org_admin):
        raise Forbidden("only operators and org-admins may list users")
    with ctx.sessions() as session:
        return [user_out(u) for u in tenants.list_users(session, None if who.is_operator else who.org_id)]


@router.patch("/{name}", response_model=UserOut)
def update_user(name: str, body: UserUpdate, ctx: Context, who: CurrentPrincipal) -> UserOut:
    """Change a user's role (member ↔ org-admin) or deactivate / reactivate them (operators; org-admins in their
    org; not yourself). Takes effect at once on this server, within 5 s on other replicas."""
    with ctx.sessions.begin() as session:
        user = update(session, who, visible_user(session, who, name), role=body.role, active=body.active,
                      now=ctx.clock())
        out = user_out(user)
    ctx.token_cache.forget_all()  # cached principals carry the role and stand for an active user
    return out


@router.get("/{name}", response_model=UserOut)
def get_user(name: str, ctx: Context, who: CurrentPrincipal) -> UserOut:
    with ctx.sessions() as session:
        return user_out(visible_user(session, who, name))
