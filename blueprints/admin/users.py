"""User admin: add, enable/disable, reset password, change role; never leave no active admin."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from blueprints.auth.models import ADMIN, MEMBER, User
from blueprints.auth.service import UserError, create_user, set_active, set_password
from database import db

ERRORS = {
    "bad_username": _l("The username must be 1-64 characters without spaces."),
    "duplicate_username": _l("That username is taken."),
    "short_password": _l("The password must be at least 8 characters."),
    "bad_role": _l("Choose a role: admin or member."),
    "last_admin": _l("That would leave no active admin. Make another user an admin first."),
}


def error_text(error: UserError) -> str:
    """The message for a refused user change."""
    return str(ERRORS.get(error.code, ERRORS["bad_username"]))


def add(form) -> User:
    """A new user from the add form (username, password, role)."""
    role = _role(form.get("role") or MEMBER)
    return create_user(form.get("username") or "", form.get("password") or "", admin=role == ADMIN)


def change_active(user: User, active: bool) -> None:
    """Enable or disable a user, unless that disables the last active admin."""
    if not active:
        _keep_an_admin(user)
    set_active(user, active)


def change_role(user: User, role: str | None) -> None:
    """Make a user admin or member, unless that demotes the last active admin."""
    role = _role(role)
    if role == MEMBER:
        _keep_an_admin(user)
    user.role = role
    db.session.commit()


def reset_password(user: User, password: str | None) -> None:
    """Set a new password chosen by the admin."""
    set_password(user, password or "")


def _role(role: str | None) -> str:
    if role not in (ADMIN, MEMBER):
        raise UserError("bad_role")
    return role


def _keep_an_admin(user: User) -> None:
    # Only an active admin can act here, so "the last one" is usually the admin themself.
    if not (user.is_admin and user.active):
        return
    others = (
        select(func.count())
        .select_from(User)
        .where(User.role == ADMIN, User.active.is_(True), User.id != user.id)
    )
    if not db.session.scalar(others):
        raise UserError("last_admin")
