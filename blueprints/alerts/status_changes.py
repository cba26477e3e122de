"""Provider state changes (sent by status) queued to the admins' channels that subscribed."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from blueprints.auth.models import ADMIN, User
from blueprints.providers.models import Provider
from blueprints.providers.signals import state_changed
from database import db

from . import messages
from .models import Channel, Delivery


@state_changed.connect
def on_state_changed(
    sender,
    provider_id: int,
    model: str,
    old: str,
    new: str,
    cause: str | None,
    at: datetime,
    **_ignored,
) -> int:
    """Receiver for providers.signals.state_changed: one delivery per subscribed admin channel.

    The rows join the prober's pass and are committed with it, so a change and its deliveries
    are stored together or not at all.
    """
    provider = db.session.get(Provider, provider_id)
    event = messages.status_event(provider.name if provider else "?", model, old, new, cause, at)
    channels = db.session.scalars(
        select(Channel)
        .join(User, User.id == Channel.user_id)
        .where(Channel.enabled.is_(True), Channel.status_changes.is_(True), User.role == ADMIN)
    ).all()
    payload = json.dumps(event, ensure_ascii=False)
    for channel in channels:
        db.session.add(
            Delivery(
                channel_id=channel.id, event=event["event"], payload=payload, next_attempt_at=at
            )
        )
    return len(channels)
