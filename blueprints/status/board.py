"""What the status page and /status.json show: public providers, states, uptime, bars, incidents.

Everything comes from a few grouped queries over all public providers at once (health rows,
hour and day buckets, incidents, notices), never from raw probes, so 500 providers stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import or_, select

from app import db, utcnow
from blueprints.providers.models import Provider

from .models import Health, Incident, IncidentNote, Monitor, Notice
from .uptime import day_bars, sparkline_24h, uptime

WINDOWS = ("24h", "7d", "30d", "90d")
RECENT = timedelta(days=14)  # closed incidents listed on the page
RANK = {"up": 0, "unknown": 1, "maintenance": 2, "degraded": 3, "down": 4}


@dataclass
class Card:
    """One public provider as the page shows it."""

    provider: Provider
    monitor: Monitor
    state: str
    health: Health | None
    models: list[Health]
    uptime: dict[str, float | None]
    bars: list
    spark: list[float | None]
    incidents: list[Incident] = field(default_factory=list)
    maintenance: bool = False

    @property
    def latency_p50(self) -> float | None:
        """Median of the last 24 hourly latency medians (None without data)."""
        known = [v for v in self.spark if v is not None]
        return round(median(known), 1) if known else None


@dataclass
class Board:
    """The whole page: cards, the overall state, notices, notes per incident."""

    generated_at: datetime
    cards: list[Card]
    overall: str
    notices: list[Notice]
    notes: dict[int, list[IncidentNote]]


def public_providers(name: str | None = None) -> list[tuple[Provider, Monitor]]:
    """Monitored providers shown publicly (optionally the one named), by name."""
    query = (
        select(Provider, Monitor)
        .join(Monitor, Monitor.provider_id == Provider.id)
        .where(Monitor.public.is_(True))
        .order_by(Provider.name)
    )
    if name is not None:
        query = query.where(Provider.name == name)
    return [(provider, monitor) for provider, monitor in db.session.execute(query)]


def build(now: datetime | None = None, name: str | None = None) -> Board:
    """The board for every public provider (or the one named)."""
    now = now or utcnow()
    pairs = public_providers(name)
    ids = [p.id for p, _m in pairs]
    healths: dict[int, list[Health]] = {i: [] for i in ids}
    for health in db.session.scalars(
        select(Health).where(Health.provider_id.in_(ids)).order_by(Health.model)
    ):
        healths[health.provider_id].append(health)
    up = uptime(ids, "", now) if ids else {}
    bars = day_bars(ids, "", now.date()) if ids else {}
    spark = sparkline_24h(ids, now) if ids else {}
    incidents = _incidents(ids, now)
    notices = active_notices(ids, now)
    in_maintenance = {
        n.provider_id for n in notices if n.kind == "maintenance" and n.starts_at <= now
    }
    cards = []
    for provider, monitor in pairs:
        rows = healths[provider.id]
        own = next((h for h in rows if h.model == ""), None)
        models = [h for h in rows if h.model and h.model in monitor.models]
        maintenance = provider.id in in_maintenance or None in in_maintenance
        cards.append(
            Card(
                provider,
                monitor,
                _state(own, models, maintenance, monitor.enabled),
                own,
                models,
                up.get(provider.id, dict.fromkeys(WINDOWS)),
                bars.get(provider.id, []),
                spark.get(provider.id, []),
                [i for i in incidents if i.provider_id == provider.id],
                maintenance,
            )
        )
    overall = max((c.state for c in cards), key=RANK.__getitem__, default="unknown")
    notes = _notes([i.id for i in incidents])
    return Board(now, cards, overall, notices, notes)


def _state(own: Health | None, models: list[Health], maintenance: bool, enabled: bool) -> str:
    """A provider's pill: maintenance, then down, then degraded (itself or any model), up."""
    if maintenance:
        return "maintenance"
    if not enabled or own is None:
        return "unknown"
    if own.state == "down":
        return "down"
    if own.state == "degraded" or any(m.state in ("down", "degraded") for m in models):
        return "degraded"
    return own.state


def _incidents(ids: list[int], now: datetime) -> list[Incident]:
    """Open incidents and those closed in the last RECENT, newest first."""
    if not ids:
        return []
    query = (
        select(Incident)
        .where(
            Incident.provider_id.in_(ids),
            or_(Incident.ended_at.is_(None), Incident.ended_at >= now - RECENT),
        )
        .order_by(Incident.started_at.desc())
    )
    return list(db.session.scalars(query))


def _notes(incident_ids: list[int]) -> dict[int, list[IncidentNote]]:
    notes: dict[int, list[IncidentNote]] = {}
    if incident_ids:
        query = select(IncidentNote).where(IncidentNote.incident_id.in_(incident_ids))
        for note in db.session.scalars(query.order_by(IncidentNote.at)):
            notes.setdefault(note.incident_id, []).append(note)
    return notes


def active_notices(ids: list[int], now: datetime) -> list[Notice]:
    """Announcements and maintenance windows that have not ended (global ones too)."""
    query = (
        select(Notice)
        .where(
            or_(Notice.provider_id.in_(ids), Notice.provider_id.is_(None)),
            or_(Notice.ends_at.is_(None), Notice.ends_at > now),
        )
        .order_by(Notice.starts_at)
    )
    return list(db.session.scalars(query))


def as_json(board: Board) -> dict:
    """The /status.json document (public providers only)."""
    return {
        "generated_at": board.generated_at.isoformat(),
        "providers": [
            {
                "name": card.provider.name,
                "state": card.state,
                "uptime": {w: card.uptime.get(w) for w in WINDOWS},
                "latency_ms_p50": card.latency_p50,
                "models": [
                    {
                        "model": m.model,
                        "state": m.state,
                        "ttft_ms_p50": m.ttft_p50_ms,
                        "tokens_per_s_p50": m.tps_p50,
                        "last_checked_at": m.last_at.isoformat() if m.last_at else None,
                    }
                    for m in card.models
                ],
                "incidents": [
                    {
                        "started_at": i.started_at.isoformat(),
                        "ended_at": i.ended_at.isoformat() if i.ended_at else None,
                        "state": i.state,
                        "cause": i.cause,
                        "model": i.model or None,
                    }
                    for i in card.incidents
                ],
            }
            for card in board.cards
        ],
    }
