"""Tracked keys (ciphertext only), their balance samples and their ingested request logs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.providers.models import Provider
from blueprints.shared.vault import encrypted, vault
from database import db, utcnow

DEFAULT_INTERVAL = 600
MIN_INTERVAL = 60


@encrypted("ciphertext")
class TrackedKey(db.Model):
    """A relay key someone asked us to watch. The key itself exists only as Fernet ciphertext."""

    __tablename__ = "tracked_key"
    __table_args__ = (UniqueConstraint("user_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # HMAC of the key: refuses duplicates without decrypting anything.
    fingerprint: Mapped[str] = mapped_column(String(64))
    head: Mapped[str] = mapped_column(String(8))  # "sk-abc", for the masked form
    last4: Mapped[str] = mapped_column(String(4))
    low_threshold: Mapped[float | None] = mapped_column(default=None)  # money, in the key's unit
    expiry_warn_days: Mapped[int] = mapped_column(default=7)
    poll_interval: Mapped[int] = mapped_column(default=DEFAULT_INTERVAL)  # seconds
    paused: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Poll state, kept on the row so a pass is one indexed query.
    next_poll_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(default=None)
    failures: Mapped[int] = mapped_column(default=0)  # consecutive relay-side failures
    status: Mapped[str | None] = mapped_column(String(16), default=None)
    unit: Mapped[str | None] = mapped_column(String(8), default=None)
    total: Mapped[float | None] = mapped_column(default=None)
    used: Mapped[float | None] = mapped_column(default=None)
    remaining: Mapped[float | None] = mapped_column(default=None)
    unlimited: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # The relay said when (or that never) the key expires; False with no date: "not stated".
    expiry_stated: Mapped[bool] = mapped_column(default=False, server_default=false())
    token_name: Mapped[str | None] = mapped_column(String(128), default=None)
    error: Mapped[str | None] = mapped_column(String(32), default=None)
    # Request-log ingestion: newest row time taken so far, and when we last tried.
    log_cursor: Mapped[int] = mapped_column(default=0)
    log_checked_at: Mapped[datetime | None] = mapped_column(default=None)

    provider: Mapped[Provider] = relationship(lazy="joined")

    @classmethod
    def sealed(cls, secret: str, **fields) -> TrackedKey:
        """A row for `secret`: Fernet ciphertext, HMAC fingerprint and the masked ends only.

        Fields given explicitly win (a caller that already computed the fingerprint passes it).
        """
        sealed = {
            "ciphertext": vault().encrypt(secret),
            "fingerprint": vault().fingerprint(secret),
            "head": secret[:6] if secret.startswith("sk-") else secret[:3],
            "last4": secret[-4:],
        }
        return cls(**{**sealed, **fields})

    @property
    def masked(self) -> str:
        """sk-abc…wxyz."""
        return f"{self.head}…{self.last4}"


class BalanceSample(db.Model):
    """One poll's result: the history behind charts, kept after a key runs dry."""

    __tablename__ = "balance_sample"
    __table_args__ = (Index("ix_balance_sample_key_time", "key_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("tracked_key.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(8), default=None)
    total: Mapped[float | None] = mapped_column(default=None)
    used: Mapped[float | None] = mapped_column(default=None)
    remaining: Mapped[float | None] = mapped_column(default=None)
    source: Mapped[str | None] = mapped_column(String(64), default=None)  # endpoint that answered
    error: Mapped[str | None] = mapped_column(String(32), default=None)  # reason code


class UsageRecord(db.Model):
    """One billed request copied from the relay's log, so history outlives the relay's window."""

    __tablename__ = "usage_record"
    __table_args__ = (
        UniqueConstraint("key_id", "dedupe"),
        Index("ix_usage_record_key_time", "key_id", "created_at"),
        # Covers /metrics' spend per key (blueprints/metrics/queries.py): an index scan, no table.
        Index("ix_usage_record_key_unit_cost", "key_id", "unit", "cost"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("tracked_key.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column()
    model: Mapped[str] = mapped_column(String(128))
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cache_tokens: Mapped[int] = mapped_column(default=0)
    quota: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(default=0.0)
    unit: Mapped[str] = mapped_column(String(8))
    use_time_s: Mapped[int] = mapped_column(default=0)
    is_stream: Mapped[bool] = mapped_column(default=False)
    frt_ms: Mapped[int | None] = mapped_column(default=None)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    # Relay log ids are renumbered per query; this hash of the row's content is stable.
    dedupe: Mapped[str] = mapped_column(String(32))
