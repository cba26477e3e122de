"""The scheduler lease: at most one scheduler acts at a time across every process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from database import db


class Lease(db.Model):
    """Who holds the scheduler, until when (the database's clock), under which generation.

    The holder renews it every few seconds. Each takeover adds one to `generation`, the fencing
    token: a pass writes only while its generation is still the row's (blueprints/shared/fence.py).
    The row is never deleted, so the generation never goes back.
    """

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column()
    generation: Mapped[int] = mapped_column(default=1, server_default="1")
