"""Provider monitoring: settings, current states, raw probes, rollup buckets, incidents, notices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from blueprints.shared.vault import encrypted
from database import db, utcnow
from relay.probe import ERROR_CLASSES as ERROR_CLASSES  # what Probe.error may hold

# "status": keyless reachability in the relay family's way (/api/status on one-api/new-api);
# "models": /v1/models with the probe key; "light": a 1-token chat; "stream": a streamed answer.
TIERS = ("status", "models", "light", "stream")
STATES = ("up", "degraded", "down", "unknown")
GRAINS = ("m", "h", "d")  # minute, hour, day buckets


@encrypted("probe_key")
class Monitor(db.Model):
    """How one provider is watched: on/off, public or not, the probe key and models, timings."""

    __tablename__ = "monitor"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    public: Mapped[bool] = mapped_column(default=True)
    probe_key: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # Fernet
    probe_masked: Mapped[str | None] = mapped_column(String(32), default=None)
    probe_models: Mapped[str] = mapped_column(String(1000), default="")  # comma-separated
    status_seconds: Mapped[int] = mapped_column(default=60)  # reachability tier
    light_seconds: Mapped[int] = mapped_column(default=300)
    stream_seconds: Mapped[int] = mapped_column(default=600)
    slow_ms: Mapped[int] = mapped_column(default=3000)  # slower than this: degraded
    ttft_slow_ms: Mapped[int] = mapped_column(default=6000)
    down_after: Mapped[int] = mapped_column(default=2)  # consecutive failures before down
    up_after: Mapped[int] = mapped_column(default=2)  # consecutive successes before up again

    @property
    def models(self) -> list[str]:
        """The probe models, in order."""
        return [m for m in (s.strip() for s in self.probe_models.split(",")) if m]


class Health(db.Model):
    """The current state of a provider (model "") or of one probe model on it."""

    __tablename__ = "health"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(128), primary_key=True, default="")
    state: Mapped[str] = mapped_column(String(10), default="unknown")
    since: Mapped[datetime] = mapped_column(default=utcnow)
    fails: Mapped[int] = mapped_column(default=0)  # consecutive failed probes
    bad: Mapped[int] = mapped_column(default=0)  # consecutive probes not good (failed or degraded)
    oks: Mapped[int] = mapped_column(default=0)  # consecutive good probes
    last_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(20), default=None)
    # Medians over the last 24 h, kept current by the prober so pages never scan raw probes.
    latency_p50_ms: Mapped[float | None] = mapped_column(default=None)
    ttft_p50_ms: Mapped[float | None] = mapped_column(default=None)
    tps_p50: Mapped[float | None] = mapped_column(default=None)


class Due(db.Model):
    """When a tier of probes runs next for a provider and model ("" for provider tiers)."""

    __tablename__ = "probe_due"
    __table_args__ = {"sqlite_with_rowid": False}

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True
    )
    tier: Mapped[str] = mapped_column(String(8), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True, default="")
    next_at: Mapped[datetime] = mapped_column()


class Probe(db.Model):
    """One probe's result (raw rows are kept for STATUS_RAW_DAYS)."""

    __tablename__ = "probe"
    __table_args__ = (Index("ix_probe_provider_at", "provider_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(128), default="")
    tier: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column()
    ok: Mapped[bool] = mapped_column()  # answered usefully (slow or 429 still counts as degraded)
    degraded: Mapped[bool] = mapped_column(default=False)
    status: Mapped[int | None] = mapped_column(default=None)  # HTTP status
    error: Mapped[str | None] = mapped_column(String(20), default=None)  # ERROR_CLASSES
    latency_ms: Mapped[float | None] = mapped_column(default=None)
    ttft_ms: Mapped[float | None] = mapped_column(default=None)
    tokens_per_s: Mapped[float | None] = mapped_column(default=None)


class Bucket(db.Model):
    """Probes of a provider (model "") or a model over one minute, hour or UTC day.

    Counters are INTEGER; the latency histogram (bins in history.BINS) makes p50/p95
    recomputable from finer buckets, so every bucket is rebuilt, never incremented.
    """

    __tablename__ = "probe_bucket"
    __table_args__ = {"sqlite_with_rowid": False}

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    total: Mapped[int] = mapped_column(default=0)
    ok: Mapped[int] = mapped_column(default=0)
    degraded: Mapped[int] = mapped_column(default=0)
    latency_n: Mapped[int] = mapped_column(default=0)
    latency_sum: Mapped[float] = mapped_column(default=0.0)
    latency_min: Mapped[float | None] = mapped_column(default=None)
    latency_max: Mapped[float | None] = mapped_column(default=None)
    latency_p50: Mapped[float | None] = mapped_column(default=None)
    latency_p95: Mapped[float | None] = mapped_column(default=None)
    histogram: Mapped[str] = mapped_column(String(400), default="")  # comma-separated bin counts
    ttft_n: Mapped[int] = mapped_column(default=0)
    ttft_sum: Mapped[float] = mapped_column(default=0.0)
    tps_n: Mapped[int] = mapped_column(default=0)
    tps_sum: Mapped[float] = mapped_column(default=0.0)


class Incident(db.Model):
    """A stretch of time a provider or model was not up; opened and closed by state changes."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_provider_started", "provider_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(128), default="")
    state: Mapped[str] = mapped_column(String(10))  # the worst state reached: degraded or down
    cause: Mapped[str | None] = mapped_column(String(20), default=None)  # an error class
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class IncidentNote(db.Model):
    """An admin's update on an incident, shown on the status page."""

    __tablename__ = "incident_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    body: Mapped[str] = mapped_column(Text)


class Notice(db.Model):
    """An announcement or a maintenance window (alerts muted, shown in blue)."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), default=None
    )  # None: every provider
    kind: Mapped[str] = mapped_column(String(12))  # "announcement" | "maintenance"
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
