"""What the status page and /status.json show: public providers, states, uptime, bars, incidents.

Everything comes from a few grouped queries over all public providers at once (health rows,
hour and day buckets, incidents, notices), never from raw probes, so 500 providers stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import or_, select

from blueprints.providers.models import Provider
from blueprints.shared.cache import TTLCache
from database import db, utcnow

from . import grade
from .coverage import from_windows
from .models import Health, Incident, IncidentNote, Monitor, Notice
from .uptime import day_bars, sparkline_24h
from .windows import ratios, windows

WINDOWS = ("24h", "7d", "30d", "90d")
RECENT = timedelta(days=14)  # closed incidents listed on the page
PAGE_SIZE = 50  # providers per page: the page never carries every provider's history at once
RANK = {"up": 0, "unknown": 1, "maintenance": 2, "degraded": 3, "down": 4}


class Shown(NamedTuple):
    """A public provider as the board needs it (plain values: no ORM object per provider)."""

    id: int
    name: str


class Watch(NamedTuple):
    """Its monitor's settings the board reads."""

    enabled: bool
    models: list[str]


@dataclass
class Card:
    """One public provider as the page shows it."""

    provider: Shown
    monitor: Watch
    state: str
    health: Health | None
    models: list[Health]
    uptime: dict[str, float | None]
    bars: list
    spark: list[float | None]
    incidents: list[Incident] = field(default_factory=list)
    maintenance: bool = False
    coverage: dict[str, float | None] = field(default_factory=dict)  # coverage.py
    reasons: list[grade.Reason] = field(default_factory=list)  # why the pill is not green

    @property
    def latency_p50(self) -> float | None:
        """Reachability latency p50 over the last 24 h (kept by the prober; None without data)."""
        value = self.health.latency_p50_ms if self.health is not None else None
        return round(value, 1) if value is not None else None


@dataclass
class Board:
    """The whole page: cards, the overall grade (grade.overall) and whom it names, notices,
    notes per incident."""

    generated_at: datetime
    cards: list[Card]
    overall: str
    named: list[str]
    notices: list[Notice]
    notes: dict[int, list[IncidentNote]]
    page: int = 1
    pages: int = 1
    total: int = 0


def public_providers(name: str | None = None) -> list[tuple[Shown, Watch]]:
    """Monitored providers shown publicly (optionally the one named), by name."""
    query = (
        select(Provider.id, Provider.name, Monitor.enabled, Monitor.probe_models)
        .join(Monitor, Monitor.provider_id == Provider.id)
        .where(Monitor.public.is_(True))
        .order_by(Provider.name)
    )
    if name is not None:
        query = query.where(Provider.name == name)
    # Monitor.models' own parsing, applied to the row (it only reads probe_models).
    return [
        (Shown(row.id, row.name), Watch(row.enabled, Monitor.models.fget(row)))
        for row in db.session.execute(query)
    ]


def build(
    now: datetime | None = None,
    name: str | None = None,
    *,
    page: int | None = None,
    bars: bool = True,
    spark: bool = True,
) -> Board:
    """The board for every public provider (or the one named, or one page of PAGE_SIZE).

    States come first for all providers (health rows only), so the banner and the order (trouble
    first, then by name) cover everyone while the heavier history is read for the page shown.
    """
    now = now or utcnow()
    pairs = public_providers(name)
    ids = [p.id for p, _m in pairs]
    healths: dict[int, list[Health]] = {i: [] for i in ids}
    # Plain rows, read like Health (same attribute names): no ORM instance per row, 2,000 a page.
    columns = Health.__table__.columns
    for health in db.session.execute(
        select(*columns).where(Health.provider_id.in_(ids)).order_by(Health.model)
    ):
        healths[health.provider_id].append(health)
    notices = active_notices(ids, now)
    maintained = {n.provider_id for n in notices if n.kind == "maintenance" and n.starts_at <= now}
    states = {}
    for provider, monitor in pairs:
        rows = healths[provider.id]
        own = next((h for h in rows if h.model == ""), None)
        probed = set(monitor.models)  # parsed once, not once per health row
        models = [h for h in rows if h.model and h.model in probed]
        maintenance = provider.id in maintained or None in maintained
        states[provider.id] = (_state(own, models, maintenance, monitor.enabled), own, models)
    overall, named = grade.overall({p.name: states[p.id][0] for p, _m in pairs})
    pairs.sort(key=lambda pair: (-RANK[states[pair[0].id][0]], pair[0].name))
    pages = max(1, -(-len(pairs) // PAGE_SIZE))
    if page is not None:
        page = min(max(1, page), pages)
        pairs = pairs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    shown = [p.id for p, _m in pairs]
    sums, first = windows(shown, "", now)  # one read for the uptime and its coverage
    up, covered = ratios(sums), from_windows(sums, first, "", now)
    day = past_and_today(shown, now) if shown and bars else {}
    lines = sparkline_24h(shown, now) if shown and spark else {}
    incidents = _incidents(shown, now)
    by_provider: dict[int, list[Incident]] = {}
    for incident in incidents:
        by_provider.setdefault(incident.provider_id, []).append(incident)
    cards = [
        Card(
            provider,
            monitor,
            states[provider.id][0],
            states[provider.id][1],
            states[provider.id][2],
            up.get(provider.id, dict.fromkeys(WINDOWS)),
            day.get(provider.id, []),
            lines.get(provider.id, []),
            by_provider.get(provider.id, []),
            states[provider.id][0] == "maintenance",
            covered.get(provider.id, dict.fromkeys(WINDOWS)),
            grade.reasons(
                states[provider.id][1],
                states[provider.id][2],
                {i.model: i.cause for i in by_provider.get(provider.id, []) if i.ended_at is None},
            ),
        )
        for provider, monitor in pairs
    ]
    notes = _notes(shown, now)
    return Board(now, cards, overall, named, notices, notes, page or 1, pages, len(ids))


# Past days' bars never change (probes land in today): kept per provider and day for an hour.
PAST_BARS = TTLCache(max_items=20_000)


def past_and_today(ids: list[int], now: datetime) -> dict[int, list]:
    """90 day bars per provider: the 89 past days from memory when known, today read fresh."""
    today = now.date()
    missing = [i for i in ids if PAST_BARS.get(f"{i}:{today}") is None]
    if missing:
        for pid, bars in day_bars(missing, "", today).items():
            PAST_BARS.set(f"{pid}:{today}", bars[:-1], 3600)
    todays = day_bars(ids, "", today, days=1)
    return {i: [*PAST_BARS.get(f"{i}:{today}"), *todays[i]] for i in ids}


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


def _listed(ids: list[int], now: datetime) -> tuple:
    """Which incidents the page lists: open ones and those closed in the last RECENT."""
    return (
        Incident.provider_id.in_(ids),
        or_(Incident.ended_at.is_(None), Incident.ended_at >= now - RECENT),
    )


def _incidents(ids: list[int], now: datetime) -> list[Incident]:
    """Open incidents and those closed in the last RECENT, newest first."""
    if not ids:
        return []
    query = select(Incident).where(*_listed(ids, now)).order_by(Incident.started_at.desc())
    return list(db.session.scalars(query))


def _notes(ids: list[int], now: datetime) -> dict[int, list[IncidentNote]]:
    """The notes on those incidents, by incident (a join: no IN list of thousands of ids)."""
    notes: dict[int, list[IncidentNote]] = {}
    if ids:
        query = select(IncidentNote).join(Incident, Incident.id == IncidentNote.incident_id)
        for note in db.session.scalars(query.where(*_listed(ids, now)).order_by(IncidentNote.at)):
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


def _round(value: float | None) -> float | None:
    return round(value, 6) if value is not None else None


def as_json(board: Board) -> dict:
    """The /status.json document (public providers only)."""
    return {
        "generated_at": board.generated_at.isoformat(),
        "overall": board.overall,  # grade.overall: up | degraded | partial | down | …
        "providers": [
            {
                "name": card.provider.name,
                "state": card.state,
                "uptime": {w: card.uptime.get(w) for w in WINDOWS},
                # The share of each window the probes cover: 1.0 after 40 min of 30d is 0.0009.
                "coverage": {w: _round(card.coverage.get(w)) for w in WINDOWS},
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
