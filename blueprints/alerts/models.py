"""Notification channels, per-key alert state (fires once per crossing) and the delivery log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from blueprints.shared.vault import encrypted
from database import db, utcnow

KINDS = ("webhook", "wecom", "dingtalk", "feishu", "apprise")


@encrypted("url_ciphertext", "secret_ciphertext")
class Channel(db.Model):
    """Where a user's alerts go. The URL (it carries the bot's token) is stored encrypted."""

    __tablename__ = "alert_channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80))
    url_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    url_hint: Mapped[str] = mapped_column(String(80))  # host + masked tail, for display
    enabled: Mapped[bool] = mapped_column(default=True)
    # Admins may also get provider status changes (status blueprint) on this channel.
    status_changes: Mapped[bool] = mapped_column(default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertState(db.Model):
    """Whether a condition is currently raised for a key, so it fires once per crossing."""

    __tablename__ = "alert_state"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_key.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # low_balance|expiring|status
    active: Mapped[bool] = mapped_column(default=False)
    value: Mapped[str | None] = mapped_column(String(32), default=None)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(db.Model):
    """One notification to one channel, retried with backoff; users can read this log."""

    __tablename__ = "alert_delivery"
    __table_args__ = (Index("ix_alert_delivery_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("alert_channel.id", ondelete="CASCADE"), index=True
    )
    key_id: Mapped[int | None] = mapped_column(
        ForeignKey("tracked_key.id", ondelete="SET NULL"), default=None
    )
    event: Mapped[str] = mapped_column(String(24))
    payload: Mapped[str] = mapped_column(Text)  # JSON of the event (masked key only)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
