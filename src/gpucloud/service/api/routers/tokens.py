"""``/api/v1/tokens``: create (the token is in the response only once), list, revoke.

Anyone manages their own tokens; org-admins those of their org's users; operators everyone's.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from gpucloud.service.api.context import Context
from gpucloud.service.api.convert import token_created, token_out
from gpucloud.service.api.params import Id
from gpucloud.service.api.routers.users import visible_user
from gpucloud.service.api.schemas import TokenCreate, TokenCreated, TokenOut
from gpucloud.service.auth import CurrentPrincipal, get_token, issue_token, list_tokens, revoke_token
from gpucloud.service.store import tenants
from gpucloud.service.store.errors import NotFound

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, ctx: Context, who: CurrentPrincipal) -> TokenCreated:
    with ctx.sessions.begin() as session:
        user = visible_user(session, who, body.user or who.name)
        row, raw = issue_token(session, user, body.description, ctx.clock())
        return token_created(row, raw)


@router.get("", response_model=list[TokenOut])
def get_tokens(ctx: Context, who: CurrentPrincipal,
               user: str | None = Query(default=None, description="only this user's tokens")) -> list[TokenOut]:
    with ctx.sessions() as session:
        if user is not None:
            ids: list[int] | None = [visible_user(session, who, user).id]
        elif who.is_operator:
            ids = None
        elif who.is_org_admin:
            ids = [u.id for u in tenants.list_users(session, who.org_id)]
        else:
            ids = [who.user_id]
        return [token_out(t) for t in list_tokens(session, ids)]


@router.post("/{token_id}/revoke", response_model=TokenOut)
def revoke(token_id: Id, ctx: Context, who: CurrentPrincipal) -> TokenOut:
    with ctx.sessions.begin() as session:
        row = get_token(session, token_id)
        if not who.sees_user(row.user):
            raise NotFound("token", token_id)
        out = token_out(revoke_token(session, row, ctx.clock()))
    ctx.token_cache.forget(row.token_hash)  # refused from now on, not only when the cache entry expires
    return out
