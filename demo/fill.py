"""Fill a throw-away instance: an admin, a provider on the demo relay, keys with days of history."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from flask import current_app

from blueprints.alerts import deliver_due_job
from blueprints.alerts.service import add_channel
from blueprints.auth.service import create_user
from blueprints.core.setup import setup_database
from blueprints.keys import poll_once
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.keys.service import add_key
from blueprints.keys.signals import key_polled
from blueprints.providers.service import add_provider
from blueprints.status import configure, probe_once
from database import db

from .relay import MODELS, QUOTA_PER_UNIT, WEBHOOK, DemoRelay, DemoToken, log_row

PROVIDER = "Demo relay"
USERNAME = "demo"
DAYS = 7
PROBE_STEP = timedelta(hours=3)  # status history: a probe pass every 3 hours of the past week
SAMPLE_STEP = timedelta(hours=2)  # balance history: a sample every 2 hours
# (label, token name, granted USD, spent before the week, requests a day, expires in days,
# low-balance alert threshold USD)
KEYS = (
    ("Main key", "main", 60.0, 12.0, 40, None, 10.0),
    ("Team bot", "team-bot", 25.0, 12.0, 30, None, 10.0),
    ("Trial", "trial", 5.0, 0.5, 8, 5, None),
)


@dataclass
class Demo:
    """What the banner prints: where to log in and a key to paste on the lookup page."""

    username: str
    password: str
    provider: str
    lookup_key: str
    keys: list[str]


def config(instance: Path) -> dict:
    """The demo app's settings: its own SQLite file and secrets, nothing from the user's setup.

    ALLOW_PRIVATE_PROVIDERS is on for this throw-away instance only, because its one provider
    is the demo relay on 127.0.0.1; the user's own instance keeps its setting.
    """
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'demo.sqlite'}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "FINGERPRINT_SECRET": secrets.token_urlsafe(48),
        "DEFAULT_PROVIDERS": [],
        "ALLOW_PRIVATE_PROVIDERS": True,
        "SESSION_COOKIE_SECURE": False,  # served over http on this machine, like `make run`
        "REDIS_URL": "",  # never the user's Redis: counters live in the demo database
        "RATELIMIT_STORAGE_URI": "",
        "SCHEDULER_ENABLED": False,  # `flask demo` builds a second app with it on to serve
        "FIRST_POLL": "inline",
        "LOG_READS_PER_PASS": len(KEYS),  # the fill's one pass reads every key's request log
        # The demo's alert channel is a webhook on the demo relay (http, 127.0.0.1).
        "ALERTS_ALLOW_HTTP": True,
        "ALERTS_ALLOW_ANY_HOST": True,
        "ALERTS_ALLOW_PRIVATE": True,
    }


def fill(relay: DemoRelay, now: datetime | None = None) -> Demo:
    """Set up the app's (empty) database with demo data; the relay learns the demo keys."""
    now = now or datetime.now(UTC)
    rng = random.Random(14)
    setup_database()
    password = secrets.token_urlsafe(12)
    user = create_user(USERNAME, password, admin=True)
    provider = add_provider(PROVIDER, relay.url, cny_rate=7.3, budget=(10000, 60))
    tokens = [_token(relay, rng, now, *spec) for spec in KEYS]
    probe = relay.add_token(DemoToken(key=_key(rng), name="status-probe", remain_quota=10**9))
    tracked = []
    for (label, _name, _granted, _before, _daily, _expiry, low), token in zip(
        KEYS, tokens, strict=True
    ):
        tracked.append(add_key(user, provider, token.key, label=label, low_threshold=low))
    configure(provider, enabled=True, public=True, probe_key=probe.key, models=[MODELS[1]])
    add_channel(user, {"kind": "webhook", "name": "Demo webhook", "url": relay.url + WEBHOOK})
    _probe_history(relay, now)
    for key, token in zip(tracked, tokens, strict=True):
        _balance_history(key, token, now)
    poll_once(now, force=True)  # the real call: today's balance, and the request logs ingested
    deliver_due_job()  # the alerts the week's history crossed, sent to the demo webhook
    return Demo(USERNAME, password, PROVIDER, tokens[0].key, [t.key for t in tokens])


def _key(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "sk-" + "".join(rng.choice(alphabet) for _ in range(48))


def _token(relay, rng, now, label, name, granted, before, daily, expiry_days, _low) -> DemoToken:
    """A demo key with a week of request logs; its balance is what those requests left."""
    start = int((now - timedelta(days=DAYS)).timestamp())
    token = DemoToken(
        key=_key(rng),
        name=name,
        remain_quota=0,
        used_quota=int(before * QUOTA_PER_UNIT),
        expires_at=int((now + timedelta(days=expiry_days)).timestamp()) if expiry_days else 0,
        token_id=7 + len(relay.tokens),
    )
    count = daily * DAYS
    for i in range(count):
        # busier in the afternoon (UTC+8 working hours), quieter at night
        at = start + int((i + rng.random()) * DAYS * 86400 / count)
        model = rng.choice(MODELS)
        row = log_row(at, model, rng.randint(800, 16000), rng.randint(100, 3000), token)
        token.logs.append(row)
    token.used_quota += sum(row["quota"] for row in token.logs)
    token.remain_quota = int(granted * QUOTA_PER_UNIT) - token.used_quota
    return relay.add_token(token)


def _balance_history(key: TrackedKey, token: DemoToken, now: datetime) -> None:
    """Past balance samples as the poller would have stored them, every SAMPLE_STEP.

    Each is announced like a poll's (keys.signals.key_polled), so usage's rollups and the alert
    rules see the history the same way they see live polls.
    """
    granted = (token.remain_quota + token.used_quota) / QUOTA_PER_UNIT
    spent_now = token.used_quota / QUOTA_PER_UNIT
    app = current_app._get_current_object()
    at = now - timedelta(days=DAYS)
    while at < now:
        unix = at.timestamp()
        later = sum(r["quota"] for r in token.logs if r["created_at"] > unix) / QUOTA_PER_UNIT
        used = spent_now - later
        sample = BalanceSample(
            key_id=key.id,
            taken_at=at,
            status="active",
            unit="USD",
            total=granted,
            used=used,
            remaining=granted - used,
            source="/api/usage/token",
        )
        db.session.add(sample)
        db.session.commit()
        key_polled.send(app, key=key, sample=sample, previous="active")
        at += SAMPLE_STEP


def _probe_history(relay: DemoRelay, now: datetime) -> None:
    """A week of status probes (every probe each PROBE_STEP), streamed without the demo's pauses."""
    delay, relay.chunk_delay = relay.chunk_delay, 0.0
    try:
        at = now - timedelta(days=DAYS)
        while at < now:
            probe_once(at, force=True)
            at += PROBE_STEP
    finally:
        relay.chunk_delay = delay
