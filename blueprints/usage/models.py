"""Hourly and daily rollups of balance samples and request logs: what charts read, not raw rows."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from database import db


class BalanceHour(db.Model):
    """One key's balance over one UTC hour; outlives the raw samples it was computed from."""

    __tablename__ = "balance_hour"
    # Clustered on (key_id, hour_start): a range of hours is one contiguous read.
    __table_args__ = {"sqlite_with_rowid": False}

    key_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_key.id", ondelete="CASCADE"), primary_key=True
    )
    hour_start: Mapped[datetime] = mapped_column(primary_key=True)
    samples: Mapped[int] = mapped_column(default=0)  # every poll in the hour, failed ones too
    unit: Mapped[str | None] = mapped_column(String(8), default=None)
    remaining_first: Mapped[float | None] = mapped_column(default=None)
    remaining_last: Mapped[float | None] = mapped_column(default=None)
    remaining_min: Mapped[float | None] = mapped_column(default=None)
    used_last: Mapped[float | None] = mapped_column(default=None)
    last_at: Mapped[datetime | None] = mapped_column(default=None)  # the last reading with numbers
    # Deltas from the previous reading (which may sit in an earlier hour): never negative.
    spend: Mapped[float] = mapped_column(default=0.0)
    topup: Mapped[float] = mapped_column(default=0.0)
    status_last: Mapped[str | None] = mapped_column(String(16), default=None)


class UsageHour(db.Model):
    """One key's logged requests for one model over one UTC hour."""

    __tablename__ = "usage_hour"
    __table_args__ = {"sqlite_with_rowid": False}

    key_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_key.id", ondelete="CASCADE"), primary_key=True
    )
    hour_start: Mapped[datetime] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    requests: Mapped[int] = mapped_column(default=0)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cache_tokens: Mapped[int] = mapped_column(default=0)
    quota: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(default=0.0)
    unit: Mapped[str] = mapped_column(String(8))


class BalanceDay(db.Model):
    """One key's balance over one local day of a stored zone: the sum of that day's hours."""

    __tablename__ = "balance_day"
    __table_args__ = {"sqlite_with_rowid": False}

    key_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_key.id", ondelete="CASCADE"), primary_key=True
    )
    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    samples: Mapped[int] = mapped_column(default=0)
    unit: Mapped[str | None] = mapped_column(String(8), default=None)
    remaining_min: Mapped[float | None] = mapped_column(default=None)
    spend: Mapped[float] = mapped_column(default=0.0)
    topup: Mapped[float] = mapped_column(default=0.0)


class UsageDay(db.Model):
    """One key's logged requests for one model over one local day of a stored zone."""

    __tablename__ = "usage_day"
    __table_args__ = {"sqlite_with_rowid": False}

    key_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_key.id", ondelete="CASCADE"), primary_key=True
    )
    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    requests: Mapped[int] = mapped_column(default=0)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cache_tokens: Mapped[int] = mapped_column(default=0)
    quota: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(default=0.0)
    unit: Mapped[str] = mapped_column(String(8))
