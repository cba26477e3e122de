"""A run's slot in the database: its sealed request until a stream claims it, then its lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from database import db


class RunSlot(db.Model):
    """One open run of an owner, seen by every worker (playground/pending.py).

    `sealed` is the run's request (key and prompt included), encrypted under a one-time key that
    only the stream URL carries; the claim wipes it, so it lives here for seconds at most. The row
    then counts against the owner's open runs until its stream ends or its lease runs out.
    """

    __tablename__ = "playground_run"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    claimed: Mapped[bool] = mapped_column(default=False, server_default="0")
    stop: Mapped[bool] = mapped_column(default=False, server_default="0")
    expires_at: Mapped[datetime] = mapped_column()
