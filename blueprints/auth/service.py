"""Users: creating, checking passwords, disabling."""

from __future__ import annotations

import functools

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from blueprints.shared.errors import Refusal
from database import db, utcnow

from .models import ADMIN, MEMBER, User

MIN_PASSWORD = 8


# Checked against when the username is unknown, so both failures cost the same time.
@functools.cache
def _dummy_hash() -> str:
    # Hashed on first use, not at import: scrypt costs tens of ms on every CLI start otherwise.
    return generate_password_hash("relaydash-dummy-password")


class UserError(Refusal):
    """A user change that cannot be made; `code` names the reason."""


def find_user(username: str | None) -> User | None:
    """A user by (case-insensitive) username."""
    if not username:
        return None
    query = select(User).where(func.lower(User.username) == username.strip().lower())
    return db.session.scalars(query).first()


def create_user(username: str, password: str, *, admin: bool = False) -> User:
    """A new active user with a hashed password."""
    username = (username or "").strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise UserError("bad_username")
    if find_user(username) is not None:
        raise UserError("duplicate_username")
    _check_password(password)
    user = User(username=username, role=ADMIN if admin else MEMBER, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def set_password(user: User, password: str) -> None:
    """Replace a user's password; every session of theirs ends."""
    _check_password(password)
    user.set_password(password)
    _next_generation(user)
    db.session.commit()


def set_active(user: User, active: bool) -> None:
    """Enable or disable a user (disabling ends their sessions for good: enabling again
    does not bring them back)."""
    user.active = active
    if not active:
        _next_generation(user)
    db.session.commit()


def end_sessions(user: User) -> None:
    """End every session of this user, server-side: cookies issued before stop working."""
    _next_generation(user)
    db.session.commit()


def authenticate(username: str | None, password: str | None) -> User | None:
    """The active user with this username and password, else None (no hint which was wrong)."""
    user = find_user(username)
    if user is None:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not user.check_password(password or "") or not user.active:
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def list_users() -> list[User]:
    """Everyone, oldest first."""
    return list(db.session.scalars(select(User).order_by(User.id)))


def _next_generation(user: User) -> None:
    # An SQL increment, so two changes at once cannot both write the same next value.
    user.session_generation = User.session_generation + 1


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise UserError("short_password")
