"""Tracked keys: adding (encrypted), editing, pausing, deleting, importing, listing."""

from __future__ import annotations

from datetime import timedelta

from flask import abort
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from blueprints.auth.models import User
from blueprints.providers.models import Provider
from blueprints.shared.errors import Refusal
from blueprints.shared.vault import rotate_all, vault
from database import db, utcnow
from relay.keys import BadKey, clean_key

from .models import DEFAULT_INTERVAL, MIN_INTERVAL, BalanceSample, TrackedKey

MAX_INTERVAL = 24 * 3600


class KeyInputError(Refusal):
    """A tracked-key change we refuse; `code` picks the message."""


def add_key(
    user: User,
    provider: Provider,
    raw_key: str,
    *,
    label: str = "",
    low_threshold: float | None = None,
    expiry_warn_days: int = 7,
    poll_interval: int = DEFAULT_INTERVAL,
) -> TrackedKey:
    """Store a key as ciphertext (plus fingerprint, head, last 4); due for a poll at once."""
    try:
        key = clean_key(raw_key)
    except BadKey as error:
        raise KeyInputError(error.code) from error
    fingerprint = vault().fingerprint(key)
    taken = select(TrackedKey.id).where(
        TrackedKey.user_id == user.id, TrackedKey.fingerprint == fingerprint
    )
    if db.session.scalar(taken) is not None:
        raise KeyInputError("duplicate_key")
    tracked = TrackedKey.sealed(
        key,
        fingerprint=fingerprint,  # already computed for the duplicate check
        user_id=user.id,
        provider_id=provider.id,
        next_poll_at=utcnow(),
    )
    _apply(tracked, label or f"…{key[-4:]}", low_threshold, expiry_warn_days, poll_interval)
    db.session.add(tracked)
    try:
        db.session.commit()
    except IntegrityError as error:
        # The same key added twice at once: the unique (user, fingerprint) caught the second.
        db.session.rollback()
        raise KeyInputError("duplicate_key") from error
    return tracked


def edit_key(
    tracked: TrackedKey,
    *,
    label: str,
    low_threshold: float | None,
    expiry_warn_days: int,
    poll_interval: int,
) -> None:
    """Change a key's settings (never the key itself)."""
    _apply(tracked, label, low_threshold, expiry_warn_days, poll_interval)
    db.session.commit()


def _apply(tracked, label, low_threshold, expiry_warn_days, poll_interval) -> None:
    label = (label or "").strip()
    if not label or len(label) > 80:
        raise KeyInputError("bad_label")
    if low_threshold is not None and low_threshold < 0:
        raise KeyInputError("bad_threshold")
    if not 0 <= expiry_warn_days <= 365:
        raise KeyInputError("bad_warn_days")
    if not MIN_INTERVAL <= poll_interval <= MAX_INTERVAL:
        raise KeyInputError("bad_interval")
    if tracked.poll_interval != poll_interval and tracked.id is not None:
        # A shorter interval should take effect now, not after the old one runs out.
        tracked.next_poll_at = min(
            tracked.next_poll_at, utcnow() + timedelta(seconds=poll_interval)
        )
    tracked.label = label
    tracked.low_threshold = low_threshold
    tracked.expiry_warn_days = expiry_warn_days
    tracked.poll_interval = poll_interval


def set_paused(tracked: TrackedKey, paused: bool) -> None:
    """Pause or resume polling (a resumed key is due at once)."""
    tracked.paused = paused
    if not paused:
        tracked.next_poll_at = utcnow()
    db.session.commit()


def delete_key(tracked: TrackedKey) -> None:
    """Purge the ciphertext and, by cascade, every sample, usage row and alert state."""
    db.session.delete(tracked)
    db.session.commit()


def owned_key(user: User, key_id: int) -> TrackedKey:
    """The user's own key, or 404 (someone else's key does not exist for them)."""
    tracked = db.session.get(TrackedKey, key_id)
    if tracked is None or tracked.user_id != user.id:
        abort(404)
    return tracked


def my_keys(user: User) -> list[TrackedKey]:
    """The user's keys with their providers, newest first."""
    query = (
        select(TrackedKey)
        .where(TrackedKey.user_id == user.id)
        .options(joinedload(TrackedKey.provider))
        .order_by(TrackedKey.id.desc())
    )
    return list(db.session.scalars(query))


def provider_keys(provider: Provider) -> list[TrackedKey]:
    """Every user's keys on a provider (they share the server's request budget)."""
    query = select(TrackedKey).where(TrackedKey.provider_id == provider.id)
    return list(db.session.scalars(query))


def spend_since(keys: list[TrackedKey], hours: int = 24) -> dict[int, float]:
    """Money spent per key in the last N hours (growth of `used` across its samples)."""
    if not keys:
        return {}
    since = utcnow() - timedelta(hours=hours)
    query = (
        select(BalanceSample.key_id, func.min(BalanceSample.used), func.max(BalanceSample.used))
        .where(BalanceSample.key_id.in_([k.id for k in keys]), BalanceSample.taken_at >= since)
        .group_by(BalanceSample.key_id)
    )
    return {
        key_id: round(high - low, 6)
        for key_id, low, high in db.session.execute(query)
        if low is not None and high is not None
    }


def sample_counts(keys: list[TrackedKey]) -> dict[int, int]:
    """How many samples each key has."""
    if not keys:
        return {}
    query = (
        select(BalanceSample.key_id, func.count())
        .where(BalanceSample.key_id.in_([k.id for k in keys]))
        .group_by(BalanceSample.key_id)
    )
    return dict(db.session.execute(query).all())


def import_keys(user: User, provider: Provider, lines: list[str]) -> dict[str, int]:
    """One key per line, optional ',label'; returns counts of added, duplicate and bad lines."""
    counts = {"added": 0, "duplicate": 0, "bad": 0}
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        raw, _, label = text.partition(",")
        try:
            add_key(user, provider, raw, label=label.strip())
        except KeyInputError as error:
            counts["duplicate" if error.code == "duplicate_key" else "bad"] += 1
        else:
            counts["added"] += 1
    return counts


def rotate_encryption() -> int:
    """Re-encrypt every stored secret (keys, alert channel URLs) under the first Fernet key."""
    return rotate_all()
