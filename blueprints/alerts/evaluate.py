"""After each poll: raise or clear each alert condition, queueing one delivery per crossing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from blueprints.keys.family import UNCHECKED, publishes_balance
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.keys.signals import key_polled
from blueprints.providers.models import Provider
from database import db, utcnow

from . import messages
from .models import AlertState, Channel, Delivery

BAD_STATUSES = frozenset({"invalid", "exhausted", "expired", "disabled", "refused"})
# rate_limited, unreachable, error: the relay did not tell us anything about the key.
# "refused" is evidence only after "active": on a key already known to be dead it adds nothing.
CONDITIONS = ("status", "low_balance", "expiring")


@key_polled.connect
def on_key_polled(sender, key: TrackedKey, sample: BalanceSample, **_ignored) -> None:
    """Receiver for keys.signals.key_polled; an alert problem never breaks the poller."""
    key_id = key.id
    try:
        evaluate(key, sample)
    except Exception:  # logged, never raised: the poll itself already succeeded
        db.session.rollback()
        current_app.logger.exception("alert evaluation failed for key %s", key_id)


def evaluate(key: TrackedKey, sample: BalanceSample) -> list[dict]:
    """Compare this sample with the stored states; queue and commit the events it causes."""
    # The poller announces a whole batch after one commit: stay cheap when nothing changed.
    states = {s.kind: s for s in db.session.scalars(select(AlertState).filter_by(key_id=key.id))}
    at = sample.taken_at or utcnow()
    events = []
    for kind in CONDITIONS:
        wanted = _condition(kind, key, sample, at, states.get(kind))
        if wanted is None:
            continue  # nothing known about this condition right now: keep its state
        raised, value = wanted
        event = _cross(states, key.id, kind, raised, value, at)
        if event:
            events.append(_event(event, kind, key, sample, at))
    if events:  # every state change comes with an event; a quiet poll writes nothing
        for event in events:
            _queue(key, event)
        db.session.commit()
    return events


def _condition(
    kind: str, key: TrackedKey, sample: BalanceSample, at: datetime, state: AlertState | None
) -> tuple[bool, str | None] | None:
    """(raised, value) for one condition, or None when this sample says nothing about it."""
    if kind == "status":
        return _status(sample, state)
    if sample.status != "active":
        return None  # a dead key alerts once, through "status"; a relay hiccup says nothing
    if kind == "low_balance":
        if not publishes_balance(key):
            return None  # no balance to watch: the alert is off (the key page says why)
        if key.low_threshold is None or key.unlimited:
            return False, None
        if sample.remaining is None:
            return None
        return sample.remaining < key.low_threshold, None
    if key.expires_at is None or key.expiry_warn_days <= 0:
        return False, None
    return key.expires_at <= at + timedelta(days=key.expiry_warn_days), None


def _status(sample: BalanceSample, state: AlertState | None) -> tuple[bool, str | None] | None:
    """The "stopped working" condition: raised only on evidence about the key itself."""
    if sample.error == UNCHECKED:
        return None  # the relay refused without saying why; the key's old status stands
    if sample.status == "refused" and state is not None and state.active:
        return None  # already known to be dead: a refusal is no new event
    if sample.status in BAD_STATUSES:
        return True, sample.status
    return (False, None) if sample.status == "active" else None


def _cross(
    states: dict, key_id: int, kind: str, raised: bool, value: str | None, at: datetime
) -> str | None:
    """Store the new state; the event name when this is a crossing, else None."""
    state = states.get(kind)
    if state is None:
        if not raised:
            return None
        state = AlertState(key_id=key_id, kind=kind, active=False)
        db.session.add(state)
    if raised and (not state.active or state.value != value):
        state.active, state.value, state.changed_at = True, value, at
        return kind
    if not raised and state.active:
        state.active, state.value, state.changed_at = False, None, at
        return "recovered"
    return None


def _event(event: str, condition: str, key: TrackedKey, sample: BalanceSample, at) -> dict:
    provider = db.session.get(Provider, key.provider_id)
    facts = {
        "key_id": key.id,
        "masked_key": key.masked,
        "label": key.label,
        "provider": provider.name if provider else "",
        "status": sample.status,
        "remaining": None if key.unlimited else sample.remaining,
        "unit": sample.unit or key.unit,
        "unlimited": key.unlimited,
        "threshold": key.low_threshold,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }
    return messages.key_event(event, key=facts, at=at, condition=condition)


def _queue(key: TrackedKey, event: dict) -> None:
    """One pending delivery per enabled channel of the key's owner."""
    channels = db.session.scalars(select(Channel).filter_by(user_id=key.user_id, enabled=True))
    payload = json.dumps(event, ensure_ascii=False)
    for channel in channels:
        db.session.add(
            Delivery(
                channel_id=channel.id,
                key_id=key.id,
                event=event["event"],
                payload=payload,
                next_attempt_at=utcnow(),
            )
        )
