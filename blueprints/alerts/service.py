"""A user's channels (add, enable, delete, test) and their delivery log."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from flask import abort
from sqlalchemy import func, select, update

from blueprints.shared.errors import Refusal
from blueprints.shared.inputs import whole_number
from blueprints.shared.vault import vault
from database import db

from . import deliver, urls
from .models import KINDS, Channel, Delivery

PER_PAGE = 20
MAX_NAME = 80
MAX_SECRET = 200


class ChannelError(Refusal):
    """Channel input we refuse; `code` names the reason (messages.py has the text)."""


@dataclass(frozen=True)
class LogPage:
    """One page of the delivery log, newest first."""

    rows: list[dict]
    page: int
    pages: int
    total: int


def channels_of(user) -> list[Channel]:
    """The user's channels, oldest first."""
    return list(db.session.scalars(select(Channel).filter_by(user_id=user.id).order_by(Channel.id)))


def channel_of(user, channel_id: int) -> Channel:
    """The user's channel, else 404 (someone else's looks exactly like a missing one)."""
    channel = db.session.get(Channel, channel_id)
    if channel is None or channel.user_id != user.id:
        abort(404)
    return channel


def add_channel(user, form) -> Channel:
    """Validate and store a channel; the URL and secret only as ciphertext."""
    kind = (form.get("kind") or "").strip()
    name = (form.get("name") or "").strip()
    secret = (form.get("secret") or "").strip() or None
    if kind not in KINDS:
        raise ChannelError("bad_kind")
    if not name or len(name) > MAX_NAME:
        raise ChannelError("bad_name")
    if secret and kind == "wecom":
        raise ChannelError("no_secret")
    if secret and kind == "apprise":
        raise ChannelError("apprise_secret")
    if secret and len(secret) > MAX_SECRET:
        raise ChannelError("long_secret")
    try:
        url = urls.check(kind, form.get("url") or "")
    except urls.UnsafeURL as refused:
        raise ChannelError(refused.code) from refused
    channel = Channel(
        user_id=user.id,
        kind=kind,
        name=name,
        url_ciphertext=vault().encrypt(url),
        secret_ciphertext=vault().encrypt(secret) if secret else None,
        url_hint=urls.hint(url, kind),
        enabled=True,
    )
    db.session.add(channel)
    db.session.commit()
    return channel


def set_status_changes(channel: Channel, wanted: bool) -> None:
    """Subscribe the channel to provider status changes, or not."""
    channel.status_changes = wanted
    db.session.commit()


def set_enabled(channel: Channel, enabled: bool) -> None:
    """Switch a channel on or off; switching off drops what it still had queued."""
    channel.enabled = enabled
    if not enabled:
        db.session.execute(
            update(Delivery)
            .where(Delivery.channel_id == channel.id, Delivery.state == "pending")
            .values(state="failed", last_error="channel_disabled")
        )
    db.session.commit()


def delete_channel(channel: Channel) -> None:
    """Remove a channel, its stored URL and its deliveries."""
    db.session.execute(Delivery.__table__.delete().where(Delivery.channel_id == channel.id))
    db.session.delete(channel)
    db.session.commit()


def send_test(channel: Channel) -> Delivery:
    """Send the test message now (logged like any delivery)."""
    return deliver.send_test(channel)


def last_delivery(channel: Channel) -> Delivery | None:
    """The channel's most recent delivery, shown beside it."""
    query = select(Delivery).filter_by(channel_id=channel.id).order_by(Delivery.id.desc())
    return db.session.scalars(query.limit(1)).first()


def log_page(user, page: str | int | None) -> LogPage:
    """The user's deliveries, newest first, PER_PAGE a page (past the last: the last)."""
    mine = select(Delivery, Channel).join(Channel).where(Channel.user_id == user.id)
    total = db.session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    number = min(whole_number(page, "page", low=1, high=99_999, default=1), pages)
    query = mine.order_by(Delivery.id.desc()).offset((number - 1) * PER_PAGE).limit(PER_PAGE)
    rows = [_row(delivery, channel) for delivery, channel in db.session.execute(query)]
    return LogPage(rows, number, pages, total)


def _row(delivery: Delivery, channel: Channel) -> dict:
    try:
        payload = json.loads(delivery.payload)
    except ValueError:
        payload = {}
    return {
        "id": delivery.id,
        "at": delivery.sent_at or delivery.created_at,
        "channel": channel.name,
        "kind": channel.kind,
        "masked_key": payload.get("masked_key"),
        "label": payload.get("label"),
        "event": delivery.event,
        "condition": payload.get("condition"),
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_error": delivery.last_error,
    }
