"""One poll's outcome → a BalanceSample, the key's new state and its next poll time."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from relay import Balance

from .models import BalanceSample, TrackedKey

# A relay-side fault (5xx, garbage, network): back off per key, doubling up to this.
MAX_BACKOFF = 3600
FAILED = ("error", "unreachable")
JITTER = 0.1  # ± this share of the delay, so keys added together drift apart
MIN_HOLD = 30  # seconds a key waits after the relay said 429 without a Retry-After


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
    """Update the key from the outcome and return the (unsaved) sample."""
    b = outcome.balance
    if b is not None and not b.info.answered and key.unit and b.unit != key.unit:
        # /api/status failed, so the unit is a guess that contradicts what we know: keep the
        # status, drop the numbers rather than store CNY or raw quota labelled USD.
        b = replace(b, unit=None, total=None, used=None, remaining=None, unlimited=key.unlimited)
    status = b.status if b is not None else "error"
    reason = b.reason if b is not None else outcome.error
    if b is not None and reason is None and "partial" in b.notes:
        reason = "partial"
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


def _numbers(key: TrackedKey, b: Balance) -> None:
    # Only a reading with numbers replaces the last known ones; a failed poll keeps them.
    if b.unit and (b.total is not None or b.used is not None or b.unlimited):
        key.unit, key.total, key.used, key.remaining = b.unit, b.total, b.used, b.remaining
        key.unlimited = b.unlimited
        # A reading with numbers is authoritative about expiry too: "never" clears an old date.
        key.expires_at = datetime.fromtimestamp(b.expires_at, UTC) if b.expires_at else None
    elif b.status == "exhausted" and not key.unlimited:
        key.remaining = 0.0  # the relay refused the key for exactly this reason
    elif b.expires_at:
        key.expires_at = datetime.fromtimestamp(b.expires_at, UTC)
    if b.token_name:
        key.token_name = b.token_name[:128]


def next_delay(key: TrackedKey, status: str, b: Balance | None) -> float:
    """Seconds to the next poll: the interval, doubled per relay fault, ± jitter."""
    interval = max(60, key.poll_interval or 600)
    if status == "rate_limited":
        # Not the key's fault: no strike; come back once the provider's hold is over.
        return max(MIN_HOLD, (b.retry_in or 0) if b is not None else 0) * _jitter()
    if status in FAILED:
        key.failures = (key.failures or 0) + 1
        delay = min(max(interval, MAX_BACKOFF), interval * 2 ** min(key.failures, 16))
    else:
        key.failures = 0
        delay = interval
    return delay * _jitter()


def _jitter() -> float:
    return random.uniform(1 - JITTER, 1 + JITTER)
