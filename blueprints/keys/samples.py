"""One poll's outcome → a BalanceSample, the key's new state and its next poll time."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

import relay
from database import db
from relay import Balance

from .family import NO_BALANCE, UNCHECKED, VALIDITY_INTERVAL
from .models import BalanceSample, TrackedKey

# A relay-side fault (5xx, garbage, network): back off per key, doubling up to this.
MAX_BACKOFF = 3600
FAILED = ("error", "unreachable")
JITTER = 0.1  # ± this share of the delay, so keys added together drift apart
MIN_HOLD = 30  # seconds a key waits after the relay said 429 without a Retry-After
# What a refusal cannot tell apart: a key already known to be one of these keeps its status.
SETTLED = frozenset({"exhausted", "expired", "disabled", "invalid"})
# Statuses that say something about the key (the rest only say the relay did not answer).
VERDICTS = (*SETTLED, "active", "refused")
# Families whose unit is a guess when /api/status did not answer.
STATUS_UNITS = (None, "one-api", "new-api")


@dataclass
class Outcome:
    """What a worker thread brings back: a Balance, or the code of what went wrong before one."""

    key_id: int
    balance: Balance | None = None
    error: str | None = None

    @property
    def refused(self) -> bool:
        """Our own budget said no: nothing reached the relay, so nothing is recorded."""
        b = self.balance
        return b is not None and b.status == "rate_limited" and b.reason == "budget"

    @property
    def relay_limited(self) -> bool:
        """The relay itself answered 429: the whole provider slows down."""
        b = self.balance
        return b is not None and b.status == "rate_limited" and b.reason != "budget"


def record(key: TrackedKey, outcome: Outcome, now: datetime) -> BalanceSample:
    """Update the key from the outcome and return the (unsaved) sample.

    A refusal never overrules what is already known: on a key that is used up, expired,
    disabled or invalid, the sample keeps that status with reason "unchecked".
    """
    b = outcome.balance
    guessed = b is not None and not b.info.answered and b.family in STATUS_UNITS
    if guessed and key.unit and b.unit != key.unit:
        # /api/status failed, so the unit is a guess that contradicts what we know: keep the
        # status, drop the numbers rather than store CNY or raw quota labelled USD.
        b = replace(b, unit=None, total=None, used=None, remaining=None, unlimited=key.unlimited)
    status = b.status if b is not None else "error"
    reason = _reason(b) if b is not None else outcome.error
    if status == "refused":
        kept = last_verdict(key)
        if kept in SETTLED:
            status, reason = kept, UNCHECKED
    sample = BalanceSample(
        key_id=key.id,
        taken_at=now,
        status=status,
        unit=b.unit if b is not None else None,
        total=b.total if b is not None else None,
        used=b.used if b is not None else None,
        remaining=b.remaining if b is not None else None,
        source=(b.answered_by[0][:64] if b is not None and b.answered_by else None),
        error=reason[:32] if reason else None,
    )
    key.status, key.error, key.last_polled_at = status, sample.error, now
    if b is not None:
        _numbers(key, b)
    key.next_poll_at = now + timedelta(seconds=next_delay(key, status, b))
    return sample


def _reason(b: Balance) -> str | None:
    """The reason code to store: the failure, else why an active key came without figures."""
    if b.reason is not None or b.status != "active":
        return b.reason
    if not b.balance_published:
        return NO_BALANCE
    if b.figures_error:
        return b.figures_error
    return "partial" if "partial" in b.notes else None


def last_verdict(key: TrackedKey) -> str | None:
    """The key's last status that said something about the key itself (not a relay fault)."""
    if key.status in VERDICTS or key.id is None:
        return key.status
    return db.session.scalar(
        select(BalanceSample.status)
        .where(BalanceSample.key_id == key.id, BalanceSample.status.in_(VERDICTS))
        .order_by(BalanceSample.taken_at.desc(), BalanceSample.id.desc())
        .limit(1)
    )


def _numbers(key: TrackedKey, b: Balance) -> None:
    # Only a reading with numbers replaces the last known ones; a failed poll keeps them.
    if b.unit and (b.total is not None or b.used is not None or b.unlimited):
        key.unit, key.total, key.used, key.remaining = b.unit, b.total, b.used, b.remaining
        key.unlimited = b.unlimited
        _expiry(key, b)
    elif b.status == "exhausted" and not key.unlimited:
        key.remaining = 0.0  # the relay refused the key for exactly this reason
    elif b.expires_at:
        key.expires_at = datetime.fromtimestamp(b.expires_at, UTC)
        key.expiry_stated = True
    if b.token_name:
        key.token_name = b.token_name[:128]


def _expiry(key: TrackedKey, b: Balance) -> None:
    """A reading with numbers is authoritative about expiry: a date, "never", or not stated."""
    if b.expires_at:
        key.expires_at, key.expiry_stated = datetime.fromtimestamp(b.expires_at, UTC), True
    elif b.expiry_stated:
        key.expires_at, key.expiry_stated = None, True  # the relay said: never
    elif key.expires_at is not None:
        # The date went away without a "never" (the billing pair's 0 is ambiguous).
        key.expires_at, key.expiry_stated = None, False
    # else: nothing contradicts an earlier "never" (or "not stated"): keep it


def next_delay(key: TrackedKey, status: str, b: Balance | None) -> float:
    """Seconds to the next poll: the interval, doubled per relay fault, ± jitter.

    Keys on relays that publish no balance are checked at most every VALIDITY_INTERVAL; an
    undecided refusal comes back as soon as the call that can tell is allowed again.
    """
    interval = max(60, key.poll_interval or 600)
    if b is not None and _validity_only(b):
        interval = max(interval, VALIDITY_INTERVAL)
    if status == "rate_limited":
        # Not the key's fault: no strike; come back once the provider's hold is over.
        return max(MIN_HOLD, (b.retry_in or 0) if b is not None else 0) * _jitter()
    if status in FAILED:
        key.failures = (key.failures or 0) + 1
        delay = min(max(interval, MAX_BACKOFF), interval * 2 ** min(key.failures, 16))
    else:
        key.failures = 0
        delay = interval
        if status == "refused" and b is not None and b.retry_in:
            delay = min(interval, max(MIN_HOLD, b.retry_in))
    return delay * _jitter()


def _validity_only(b: Balance) -> bool:
    """True when this relay can only say whether the key works (no balance to watch)."""
    family = relay.FAMILIES.get(b.family or "")
    return not b.balance_published or (family is not None and not family.publishes_balance)


def _jitter() -> float:
    return random.uniform(1 - JITTER, 1 + JITTER)
