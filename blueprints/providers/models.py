"""The Provider table and its per-model price table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from database import db, utcnow


class Provider(db.Model):
    """One relay deployment (one base URL) and how its quota is bought."""

    __tablename__ = "provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    base_url: Mapped[str] = mapped_column(String(255))
    hidden: Mapped[bool] = mapped_column(default=False)
    # CNY paid per 1 USD of quota; None when the admin did not say.
    cny_rate: Mapped[float | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Calls relaydash may make per window to this relay's per-IP-limited paths; 0 = no limit.
    request_budget: Mapped[int] = mapped_column(default=150)
    budget_seconds: Mapped[int] = mapped_column(default=180)
    # The relay family (relay.families): "auto" detects; an admin may name one instead.
    kind: Mapped[str] = mapped_column(String(16), default="auto", server_default="auto")
    # What detection found last (written where a family is resolved with a session to commit).
    detected_kind: Mapped[str | None] = mapped_column(String(16), default=None)

    def __repr__(self) -> str:
        return f"<Provider {self.name} {self.base_url}>"


class ModelPrice(db.Model):
    """What one model costs on one provider, per million tokens, in the provider's money unit."""

    __tablename__ = "model_price"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    input_per_m: Mapped[float] = mapped_column()
    output_per_m: Mapped[float] = mapped_column()
