"""Sending queued deliveries: one POST each, judged by HTTP status and the bot's own code."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import requests
from sqlalchemy import select

from blueprints.shared.fence import check
from blueprints.shared.vault import InvalidToken, vault
from database import db, utcnow
from relay import guard
from relay.http import make_session

from . import apprise_send, formats, messages, urls
from .models import Channel, Delivery

SEND_TIMEOUT = (3.0, 5.0)
MAX_ATTEMPTS = 6  # then "failed"; the waits between are 1, 2, 4, 8, 16 minutes
MAX_ANSWER = 64 * 1024
# Connections go only to addresses relay.guard checked, so a name that resolves elsewhere by the
# time of sending (DNS rebinding) reaches nothing private.
SESSION = make_session(pool=8, allow_private=urls.private_allowed)


def deliver_due(now: datetime | None = None, limit: int = 100) -> int:
    """Attempt every pending delivery that is due (enabled channels only); how many were tried."""
    now = now or utcnow()
    query = (
        select(Delivery)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.state == "pending", Delivery.next_attempt_at <= now, Channel.enabled)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    tried = 0
    for delivery in db.session.scalars(query).all():
        check()  # a pass that lost the lease would send what the new holder sends again
        attempt(delivery, now)
        db.session.commit()  # one at a time: a crash never sends the same message twice
        tried += 1
    return tried


def deliver_due_job() -> None:
    """The scheduler's entry point; the scheduler runner has already pushed an app context."""
    deliver_due()


def send_test(channel: Channel, now: datetime | None = None) -> Delivery:
    """Send a test message now and log it; a failed test is not retried (someone is watching)."""
    now = now or utcnow()
    event = messages.test_event(channel.name, now)
    delivery = Delivery(
        channel_id=channel.id,
        event="test",
        payload=json.dumps(event, ensure_ascii=False),
        state="pending",
        attempts=0,
        next_attempt_at=now,
    )
    db.session.add(delivery)
    attempt(delivery, now, retry=False)
    db.session.commit()
    return delivery


def attempt(delivery: Delivery, now: datetime, *, retry: bool = True) -> None:
    """One try: on failure schedule the next with exponential backoff, or give up."""
    channel = db.session.get(Channel, delivery.channel_id)
    error = send(channel, json.loads(delivery.payload), now)
    delivery.attempts += 1
    if error is None:
        delivery.state, delivery.sent_at, delivery.last_error = "sent", now, None
        return
    delivery.last_error = error[:200]
    if not retry or delivery.attempts >= MAX_ATTEMPTS:
        delivery.state = "failed"
        return
    delivery.next_attempt_at = now + timedelta(minutes=2 ** (delivery.attempts - 1))


def send(channel: Channel, event: dict, now: datetime) -> str | None:
    """POST the event to the channel; None on success, else a short error code (no URL)."""
    try:
        url = vault().decrypt(channel.url_ciphertext)
        secret = vault().decrypt(channel.secret_ciphertext) if channel.secret_ciphertext else None
    except InvalidToken:
        return "cannot_decrypt"
    try:
        # Checked again at send time: the rules may have changed since saving. The addresses are
        # checked by the connection itself, on the very addresses it connects to.
        urls.check(channel.kind, url, resolve=False)
    except urls.UnsafeURL as refused:
        return refused.code
    if channel.kind == "apprise":
        return apprise_send.send(url, event, allow_private=urls.private_allowed())
    out = formats.build(channel.kind, url, secret, event, now.timestamp())
    try:
        with SESSION.post(
            out.url,
            data=out.body,
            headers=out.headers,
            timeout=SEND_TIMEOUT,
            allow_redirects=False,
            stream=True,
        ) as response:
            text = _read(response)
            return formats.judge(channel.kind, response.status_code, text)
    # Exception texts carry the URL, and so the bot's token: keep only the kind.
    except guard.Blocked as refused:  # a proxy's target, refused before sending
        return refused.code
    except requests.exceptions.Timeout:
        return "timeout"
    except requests.exceptions.SSLError:
        return "tls_error"
    except requests.exceptions.ConnectionError as error:
        refused = guard.blocked(error)
        return refused.code if refused is not None else "connection_error"
    except requests.exceptions.RequestException:
        return "request_error"


def _read(response: requests.Response) -> str:
    body = b""
    for chunk in response.iter_content(8192):
        body += chunk
        if len(body) >= MAX_ANSWER:
            break
    return body.decode("utf-8", errors="replace")
