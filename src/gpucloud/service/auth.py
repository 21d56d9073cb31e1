"""Authentication and the visibility rules: bearer tokens, principals, and who may see or do what.

Tokens are ``gpc_`` + 43 random URL-safe characters, shown once and stored only as their SHA-256 hash (with
a short prefix for display). Roles: ``operator`` (everything), ``org-admin`` (their org's users, projects
and jobs), ``member`` (their own jobs, their org's queue). Things a caller may not see are reported as not
found (404); actions a caller may not take on things it may see are forbidden (403). See ``docs/api.md``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.errors import GpucloudError
from gpucloud.service.store.errors import Conflict, NotFound
from gpucloud.service.store.models import JobRow, TokenRow, UserRow

TOKEN_PREFIX = "gpc_"
#: How many leading characters of a token are kept for display (``gpc_`` + 8).
DISPLAY_PREFIX_LEN = 12
BOOTSTRAP_OPERATOR = "admin"


class Unauthorized(GpucloudError):
    """No token, or a token that is unknown or revoked (401)."""


class Forbidden(GpucloudError):
    """The caller may see the thing but may not do this to it (403)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    user_id: int
    name: str
    role: str
    org_id: int | None
    org: str | None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def is_org_admin(self) -> bool:
        return self.role == "org-admin"

    def sees_org(self, org_id: int) -> bool:
        """Operators see every org; everyone else only their own."""
        return self.is_operator or org_id == self.org_id

    def manages_org(self, org_id: int) -> bool:
        """Operators manage every org; org-admins their own."""
        return self.is_operator or (self.is_org_admin and org_id == self.org_id)

    def sees_user(self, user: UserRow) -> bool:
        """Yourself; an org-admin their org's users; an operator everyone."""
        return user.id == self.user_id or self.is_operator or (
            self.is_org_admin and user.org_id is not None and user.org_id == self.org_id
        )

    def sees_job(self, job: JobRow) -> bool:
        """Your own jobs; an org-admin their org's jobs; an operator every job."""
        return job.user_id == self.user_id or self.manages_org(job.org_id)

    def require_operator(self) -> None:
        if not self.is_operator:
            raise Forbidden("only operators may do this")

    def require_manager(self, org_id: int) -> None:
        if not self.manages_org(org_id):
            raise Forbidden("only operators and this org's admins may do this")


def principal_of(user: UserRow) -> Principal:
    return Principal(user.id, user.name, user.role, user.org_id, None if user.org is None else user.org.name)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: UserRow, description: str, now: float) -> tuple[TokenRow, str]:
    """A new token for ``user``: the stored row and the raw token (the only time it is available). A deactivated
    user gets none (:class:`Conflict`)."""
    if user.deactivated_at is not None:
        raise Conflict(f"user {user.name!r} is deactivated; reactivate them first")
    raw = new_token()
    row = TokenRow(user_id=user.id, token_hash=hash_token(raw), prefix=raw[:DISPLAY_PREFIX_LEN],
                   description=description, created_at=now)
    session.add(row)
    session.flush()
    return row, raw


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal behind a raw token, or ``None`` if it is unknown or revoked or its user is deactivated."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(
        select(TokenRow).where(TokenRow.token_hash == hash_token(token), TokenRow.revoked_at.is_(None))
    )
    return None if row is None or row.user.deactivated_at is not None else principal_of(row.user)


def get_token(session: Session, token_id: int) -> TokenRow:
    row = session.get(TokenRow, token_id)
    if row is None:
        raise NotFound("token", token_id)
    return row


def list_tokens(session: Session, user_ids: list[int] | None) -> list[TokenRow]:
    """Tokens of these users (``None``: of everyone), oldest first."""
    stmt = select(TokenRow).order_by(TokenRow.id)
    if user_ids is not None:
        stmt = stmt.where(TokenRow.user_id.in_(user_ids))
    return list(session.scalars(stmt))


def revoke_token(session: Session, token: TokenRow, now: float) -> TokenRow:
    if token.revoked_at is None:
        token.revoked_at = now
    return token


def ensure_operator(session: Session, now: float | None = None, name: str = BOOTSTRAP_OPERATOR) -> str | None:
    """On a database with no operator: create one (``admin``) and return a fresh token for it, else ``None``.

    The server prints that token on its very first start; it is never shown again.
    """
    if session.scalar(select(UserRow.id).where(UserRow.role == "operator").limit(1)) is not None:
        return None
    at = time.time() if now is None else now
    user = UserRow(name=name, role="operator", org_id=None, created_at=at)
    session.add(user)
    session.flush()
    _, raw = issue_token(session, user, "bootstrap token", at)
    return raw


_bearer = HTTPBearer(auto_error=False, description="a gpucloud token (gpc_...)")


#: How long a server trusts a token it has checked without asking the database again. A token revoked through
#: this server is refused at once (the revoke drops it from the cache); one revoked through another replica
#: sharing the database is refused within this many seconds.
TOKEN_CACHE_TTL_S = 5.0


class TokenCache:
    """Principals of recently seen tokens, by token hash, for :data:`TOKEN_CACHE_TTL_S` seconds.

    Users are never deleted and their name and org never change, so what can make a cached answer wrong is a
    revocation, dropped at once by :meth:`forget` (called by the revoke), and a user's role change or
    deactivation, which drops every entry (:meth:`forget_all`)."""

    def __init__(self, ttl_s: float = TOKEN_CACHE_TTL_S, max_size: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_size = max_size
        self._hits: dict[str, tuple[Principal, float]] = {}
        self._generation = 0

    def get(self, token_hash: str) -> Principal | None:
        hit = self._hits.get(token_hash)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def generation(self) -> int:
        return self._generation

    def put(self, token_hash: str, principal: Principal, generation: int) -> None:
        """Remember ``principal`` unless a revocation happened since ``generation`` (read before the lookup)."""
        if generation != self._generation:
            return
        if len(self._hits) >= self.max_size:
            self._hits.clear()
        self._hits[token_hash] = (principal, time.monotonic() + self.ttl_s)

    def forget(self, token_hash: str) -> None:
        self._generation += 1
        self._hits.pop(token_hash, None)

    def forget_all(self) -> None:
        self._generation += 1
        self._hits.clear()


def _lookup(sessions: sessionmaker[Session], token: str) -> Principal | None:
    with sessions() as session:
        return authenticate(session, token)


async def bearer_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the caller of this request; 401 without a valid token.

    Reads the session factory from ``request.app.state.sessions`` and, if the app has one, the
    :class:`TokenCache` from ``request.app.state.token_cache`` (a hit needs no database and no thread).
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token (Authorization: Bearer gpc_...)")
    token = credentials.credentials
    cache: TokenCache | None = getattr(request.app.state, "token_cache", None)
    if cache is not None and token.startswith(TOKEN_PREFIX):
        digest = hash_token(token)
        principal = cache.get(digest)
        if principal is not None:
            return principal
        generation = cache.generation()
        principal = await run_in_threadpool(_lookup, request.app.state.sessions, token)
        if principal is not None:
            cache.put(digest, principal, generation)
    else:
        principal = await run_in_threadpool(_lookup, request.app.state.sessions, token)
    if principal is None:
        raise Unauthorized("unknown or revoked token")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(bearer_principal)]
