"""States from probe results (up / degraded / down, no flapping), incidents and notifications.

A provider's own state (model "") follows its reachability probes; each probe model's state
follows its chat probes. Leaving `up` takes `down_after` bad probes in a row: `down` if they all
failed, `degraded` if some only answered badly (slow, 429, empty). Coming back takes `up_after`
good probes in a row. Every change opens, worsens or closes an incident; outside maintenance
windows it is also announced (providers.signals.state_changed); alerts queues it to the admins'
channels that subscribed to status changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import or_, select

from blueprints.providers.signals import state_changed
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
    """Announce the change (providers.signals.state_changed); how many deliveries were queued."""
    if change.old == "unknown" and change.new == "up":
        return 0  # a first reading is not news
    if in_maintenance(change.provider_id, change.at):
        return 0  # muted: the admins announced this
    answers = state_changed.send(
        current_app._get_current_object(),
        provider_id=change.provider_id,
        model=change.model,
        old=change.old,
        new=change.new,
        cause=change.cause,
        at=change.at,
    )
    return sum(queued or 0 for _receiver, queued in answers)
