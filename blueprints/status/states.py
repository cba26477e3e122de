"""States from probe results (up / degraded / down, no flapping), incidents and notifications.

A provider's own state (model "") follows its reachability probes; each probe model's state
follows its chat probes. Leaving `up` takes `down_after` bad probes in a row: `down` if they all
failed, `degraded` if some only answered badly (slow, 429, empty). Coming back takes `up_after`
good probes in a row. Every change opens, worsens or closes an incident; outside maintenance
windows it is also queued to the admins' channels that subscribed to status changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from blueprints.alerts.models import Channel, Delivery
from blueprints.auth.models import ADMIN, User
from blueprints.providers.models import Provider
from database import db

from .models import Health, Incident, Monitor, Notice

SEVERITY = {"unknown": 0, "up": 0, "degraded": 1, "down": 2}


@dataclass(frozen=True)
class Change:
    """A state change of a provider (model "") or of a model on it."""

    provider_id: int
    model: str
    old: str
    new: str
    cause: str | None
    at: datetime


def step(
    health: Health, *, ok: bool, degraded: bool, error: str | None, monitor: Monitor, at: datetime
) -> Change | None:
    """Fold one probe result into the health row; the Change when the state moved."""
    good = ok and not degraded
    failed = not ok and not degraded
    health.last_at = at
    health.last_error = error if not good else None
    if good:
        health.oks, health.bad, health.fails = health.oks + 1, 0, 0
    else:
        health.oks, health.bad = 0, health.bad + 1
        health.fails = health.fails + 1 if failed else 0
    new = _target(health, good, monitor)
    if new is None or new == health.state:
        return None
    change = Change(health.provider_id, health.model, health.state, new, error, at)
    health.state, health.since = new, at
    return change


def _target(health: Health, good: bool, monitor: Monitor) -> str | None:
    """The state these counters call for, or None to stay."""
    if good:
        if health.state == "unknown" or health.oks >= max(1, monitor.up_after):
            return "up"
        return None
    if health.bad < max(1, monitor.down_after):
        return None
    return "down" if health.fails >= max(1, monitor.down_after) else "degraded"


def record_change(change: Change) -> None:
    """Open, worsen or close the incident of this provider/model for a state change."""
    open_incident = db.session.scalar(
        select(Incident).where(
            Incident.provider_id == change.provider_id,
            Incident.model == change.model,
            Incident.ended_at.is_(None),
        )
    )
    if change.new == "up":
        if open_incident is not None:
            open_incident.ended_at = change.at
        return
    if open_incident is None:
        db.session.add(
            Incident(
                provider_id=change.provider_id,
                model=change.model,
                state=change.new,
                cause=change.cause or "slow",
                started_at=change.at,
            )
        )
    elif SEVERITY[change.new] > SEVERITY[open_incident.state]:
        open_incident.state = change.new
        open_incident.cause = change.cause or open_incident.cause


def in_maintenance(provider_id: int, at: datetime) -> bool:
    """True while a maintenance window covers this provider (or every provider)."""
    query = select(Notice.id).where(
        Notice.kind == "maintenance",
        or_(Notice.provider_id == provider_id, Notice.provider_id.is_(None)),
        Notice.starts_at <= at,
        or_(Notice.ends_at.is_(None), Notice.ends_at > at),
    )
    return db.session.scalar(query.limit(1)) is not None


def notify(change: Change) -> int:
    """Queue the change to every admin channel subscribed to status changes; how many."""
    if change.old == "unknown" and change.new == "up":
        return 0  # a first reading is not news
    if in_maintenance(change.provider_id, change.at):
        return 0  # muted: the admins announced this
    provider = db.session.get(Provider, change.provider_id)
    event = status_event(change, provider.name if provider else "?")
    channels = db.session.scalars(
        select(Channel)
        .join(User, User.id == Channel.user_id)
        .where(Channel.enabled.is_(True), Channel.status_changes.is_(True), User.role == ADMIN)
    ).all()
    payload = json.dumps(event, ensure_ascii=False)
    for channel in channels:
        db.session.add(
            Delivery(
                channel_id=channel.id,
                event=event["event"],
                payload=payload,
                next_attempt_at=change.at,
            )
        )
    return len(channels)


def status_event(change: Change, provider: str) -> dict:
    """The event dict alert formats render (title and lines; both languages, like bots need)."""
    icon = {"up": "✅", "degraded": "⚠️", "down": "🔴"}.get(change.new, "•")
    what = f"{provider} · {change.model}" if change.model else provider
    lines = [
        f"{change.old} → {change.new}",
        f"原因 cause: {change.cause}" if change.cause else "",
        f"时间 at: {change.at.strftime('%Y-%m-%d %H:%M:%S')} UTC",
    ]
    return {
        "event": f"status_{change.new}",
        "title": f"{icon} {what}: {change.new}",
        "lines": [line for line in lines if line],
        "provider": provider,
        "model": change.model,
        "state": change.new,
        "previous": change.old,
        "cause": change.cause,
        "at": change.at.isoformat(),
    }
