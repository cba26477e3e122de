"""The User table (Flask-Login)."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from database import db, utcnow

ADMIN = "admin"
MEMBER = "member"


class User(UserMixin, db.Model):
    """A person who can log in; members see only their own keys, admins manage the site."""

    # "user" is reserved in PostgreSQL.
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=MEMBER)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # Every session carries the generation it was issued under; raising it (logout, a new
    # password, disabling) ends them all, including cookies copied before.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    def get_id(self) -> str:
        """Session id: the row id plus the session generation (see `load_user`)."""
        return f"{self.id}.{self.session_generation}"

    @property
    def is_active(self) -> bool:
        """Disabled users cannot log in and lose their sessions."""
        return self.active

    @property
    def is_admin(self) -> bool:
        """True for the admin role."""
        return self.role == ADMIN

    def set_password(self, password: str) -> None:
        """Store a scrypt hash (werkzeug's default), never the password."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Constant-time check against the stored hash."""
        return check_password_hash(self.password_hash, password)
