"""The relay's per-IP limits in plain words: what is limited, whose limit, when it returns."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from flask_babel import format_timedelta, get_timezone
from flask_babel import gettext as _

import relay
from relay.calls import SUBSCRIPTION, USAGE_TOKEN

BALANCE_READS = "balance"
LOG_READS = "log"
# The per-IP limited calls a balance lookup may need (new-api 2026 first, then the billing pair).
BALANCE_PATHS = (USAGE_TOKEN, SUBSCRIPTION)


def zone_name() -> str:
    """The viewer's IANA zone name, as other pages label their times."""
    zone = get_timezone()
    return getattr(zone, "key", None) or str(zone)


def clock(seconds_from_now: float) -> str:
    """'15:04' (or '2026-11-28 15:04' past today) in the viewer's zone, when a wait ends."""
    zone = get_timezone()
    now = datetime.now(UTC).astimezone(zone)
    moment = (datetime.now(UTC) + timedelta(seconds=seconds_from_now)).astimezone(zone)
    return moment.strftime("%H:%M" if moment.date() == now.date() else "%Y-%m-%d %H:%M")


def at_time(timestamp: float) -> str:
    """A unix time as 'YYYY-MM-DD HH:MM (zone)' in the viewer's zone."""
    moment = datetime.fromtimestamp(timestamp, UTC).astimezone(get_timezone())
    return f"{moment:%Y-%m-%d %H:%M} ({zone_name()})"


def try_again(retry_in: float | None) -> str:
    """'Try again in 167 s, at 15:04 (Asia/Shanghai).'"""
    seconds = max(1, math.ceil(retry_in or 60))
    return _(
        "Try again in %(seconds)s s, at %(time)s (%(zone)s).",
        seconds=seconds,
        time=clock(seconds),
        zone=zone_name(),
    )


def held_path(base_url: str, paths: tuple[str, ...] = BALANCE_PATHS) -> str:
    """The limited path that waits longest now (without spending): the one that held us back."""
    return max(paths, key=lambda path: relay.BUDGETS.wait_time(base_url, path))


def what_is_limited(base_url: str, reads: str, path: str | None = None) -> str:
    """What is limited and by how much: 'Balance reads of this relay are limited to 18 per …'."""
    path = path or (held_path(base_url) if reads == BALANCE_READS else None)
    limit = relay.BUDGETS.limit_of(base_url, path) if path else None
    if limit is None:
        if reads == LOG_READS:
            return _(
                "Request-log reads of this relay are limited per IP address, "
                "and that allowance is used up for now."
            )
        return _(
            "Balance reads of this relay are limited per IP address, "
            "and that allowance is used up for now."
        )
    calls, seconds = limit
    window = format_timedelta(timedelta(seconds=seconds))
    if reads == LOG_READS:
        return _(
            "Request-log reads of this relay are limited to %(calls)s per %(window)s "
            "from one IP address, and that allowance is used up for now.",
            calls=calls,
            window=window,
        )
    return _(
        "Balance reads of this relay are limited to %(calls)s per %(window)s "
        "from one IP address, and that allowance is used up for now.",
        calls=calls,
        window=window,
    )


def whose_limit() -> str:
    """Whose limit it is, and who gives way first."""
    return _(
        "The limit is the relay's, not your key's: everyone using this relaydash server shares "
        "one IP address. relaydash keeps a share for people looking keys up; its background "
        "checks back off first."
    )


def budget_texts(base_url: str, reads: str, retry_in: float | None, path: str | None = None):
    """(what and whose, when) for a read held back by the relay's per-IP limit."""
    return (
        f"{what_is_limited(base_url, reads, path)} {whose_limit()}",
        try_again(retry_in),
    )
