"""Changing a user: their role (between member and org-admin) and whether they are active. Operators manage
everyone, org-admins their org's users; nobody changes their own role or deactivates themselves (so an active
operator always remains). A deactivated user's tokens are refused (:func:`gpucloud.service.auth.authenticate`) until
they are reactivated; their jobs run on and their records stay."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.service.auth import Forbidden, Principal
from gpucloud.service.store.errors import Conflict
from gpucloud.service.store.models import UserRow

#: the roles a user can be moved between (operators are created as such and stay so)
CHANGEABLE_ROLES = ("member", "org-admin")


def update_user(session: Session, who: Principal, user: UserRow, *, role: str | None, active: bool | None,
                now: float) -> UserRow:
    """Apply the changes that are given (None: unchanged) to ``user``, whom ``who`` may see."""
    if not (who.is_operator or (who.is_org_admin and user.org_id == who.org_id)):
        raise Forbidden("only operators and the user's org-admins may change a user")
    if user.id == who.user_id and (role not in (None, user.role) or active is False):
        raise Conflict("you cannot change your own role or deactivate yourself")
    if role is not None and role != user.role:
        if role not in CHANGEABLE_ROLES or user.role not in CHANGEABLE_ROLES:
            raise InputError("role", f"a user's role changes only between {' and '.join(CHANGEABLE_ROLES)}; "
                             "operators are created as operators", role)
        user.role = role
    if active is False and user.deactivated_at is None:
        user.deactivated_at = now
    elif active is True:
        user.deactivated_at = None
    session.flush()
    return user
