"""The numbers a key holder reads every day, as pure functions on plain values (no database).

Money is in the key's own unit (USD, CNY…); callers never mix units in one call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple, Protocol

# A balance rise this small is relay rounding (remaining = rounded total - used), not a top-up.
TOPUP_TOLERANCE = 0.005
EPSILON = 1e-9
# Logged cost and balance drop this close (absolute or relative) agree up to relay rounding.
ROUNDING_ABS = 0.01
ROUNDING_SHARE = 0.01
MAX_RUNWAY_DAYS = 3650  # beyond ten years an "empty around" date means nothing
# Where spend figures come from: the balance's drops between polls, or the logged request costs.
BALANCE, LOGS = "balance", "logs"


class Reading(Protocol):
    """One balance reading (a BalanceSample or anything shaped like it)."""

    unit: str | None
    used: float | None
    remaining: float | None


class Topup(NamedTuple):
    """A rise of the balance that spending does not explain."""

    at: datetime
    amount: float


class Runway(NamedTuple):
    """How long the balance lasts at the current burn; empty_at is None beyond ten years."""

    days: float
    empty_at: datetime | None


class Reconcile(NamedTuple):
    """Logged request costs against the balance drop over one window."""

    gap: float | None  # balance drop minus logged cost; > 0: the balance fell more than logged
    share: float | None  # gap / balance drop
    code: str  # see reconcile()


class Countdown(NamedTuple):
    """Time left before a key expires."""

    days: int
    hours: int
    expired: bool


def delta(before: Reading, after: Reading) -> tuple[float, float]:
    """(spend, top-up) between two readings of one key; neither is ever negative.

    Spend is the rise of `used`; without `used` (or when the relay reset it) it is the drop of
    `remaining`. A rise of `remaining` beyond what the spend explains is a top-up.
    """
    if before.unit and after.unit and before.unit != after.unit:
        return 0.0, 0.0  # the relay changed units: the two numbers do not compare
    dr = _diff(before.remaining, after.remaining)
    du = _diff(before.used, after.used)
    if du is not None and du >= 0:
        spend, topup = du, (dr + du if dr is not None else 0.0)
    elif dr is not None:
        spend, topup = max(-dr, 0.0), max(dr, 0.0)
    else:
        return 0.0, 0.0
    return (spend if spend > EPSILON else 0.0), (topup if topup > TOPUP_TOLERANCE else 0.0)


def _diff(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def topups(readings: Iterable, *, min_amount: float = TOPUP_TOLERANCE) -> list[Topup]:
    """Top-ups in time-ordered readings (objects with taken_at, unit, used, remaining)."""
    found = []
    previous = None
    for reading in readings:
        if reading.remaining is None and reading.used is None:
            continue  # a failed poll says nothing about the balance
        if previous is not None:
            _, amount = delta(previous, reading)
            if amount > min_amount:
                found.append(Topup(reading.taken_at, amount))
        previous = reading
    return found


def spend_source(rows: Iterable) -> str:
    """LOGS while the balance has not dropped yet but logged requests cost money, else BALANCE.

    A key tracked since this morning has balance hours with zero spend beside days of logs
    ingested from the relay's history: its spend is the logged costs until the balance moves.
    """
    rows = list(rows)
    if any((row.spend or 0.0) > EPSILON for row in rows):
        return BALANCE
    if any((getattr(row, "cost", None) or 0.0) > EPSILON for row in rows):
        return LOGS
    return BALANCE


def day_spend(row, source: str = BALANCE) -> float | None:
    """A day row's spend from the chosen source (None: unknown, not zero)."""
    return row.spend if source == BALANCE else getattr(row, "cost", None)


def burn_rate(rows: Sequence, days: int = 7, *, today: date, source: str = BALANCE) -> float | None:
    """Average daily spend over the `days` complete local days before `today`, or None.

    `rows` have .day and .spend (one unit). Missing days inside the span count as days: the
    spend of a gap lands on the first day after it. Days after the last row do not count
    (nothing is known about them yet), nor today (it is not over).
    """
    first_day = today - timedelta(days=days)
    # A day with logged requests but no poll has spend None: it says nothing about the balance.
    present = [
        row for row in rows if first_day <= row.day < today and day_spend(row, source) is not None
    ]
    if not present:
        return None
    span = (max(r.day for r in present) - min(r.day for r in present)).days + 1
    return sum(day_spend(r, source) for r in present) / span


def window_sums(rows: Iterable, *, today: date, source: str = BALANCE) -> dict[str, float | None]:
    """Spend today, over the last 7 and the last 30 local days (today included), from day rows.

    The same numbers as queries.spend_windows, without a second query when the day rows are
    already at hand (the overview). A window without any known spend is None (shown "—"), not 0.
    """
    sums: dict[str, float | None] = {"today": None, "7d": None, "30d": None}
    for row in rows:
        spend = day_spend(row, source)
        if spend is None:
            continue
        age = (today - row.day).days
        for name, days in (("today", 1), ("7d", 7), ("30d", 30)):
            if 0 <= age < days:
                sums[name] = (sums[name] or 0.0) + spend
    return sums


def runway(remaining: float | None, burn_per_day: float | None, now: datetime) -> Runway | None:
    """Days until the balance is empty at this burn and when; None when it never empties."""
    if remaining is None or burn_per_day is None or burn_per_day <= EPSILON:
        return None
    if remaining <= 0:
        return Runway(0.0, now)
    days = remaining / burn_per_day
    empty_at = now + timedelta(days=days) if days <= MAX_RUNWAY_DAYS else None
    return Runway(days, empty_at)


def reconcile(
    logged_cost: float | None,
    balance_drop: float | None,
    *,
    topup: float = 0.0,
    scope: str | None = None,
    capped: bool = False,
    untracked: float = 0.0,
) -> Reconcile:
    """Compare logged costs with the net balance drop (spend - top-ups) over one window.

    Codes, first match wins: no_logs (nothing logged to compare), no_balance, match, rounding
    (a gap within relay rounding), topup (top-ups inside the window explain it), logs_capped
    (our logs do not cover the whole window), tracking_late (`untracked`: logged cost from
    before the first balance reading, which no balance drop can show), untracked_keys (the
    balance is the account's, shared with keys we do not see), unexplained.
    """
    if logged_cost is None:
        return Reconcile(None, None, "no_logs")
    if balance_drop is None:
        return Reconcile(None, None, "no_balance")
    gap = balance_drop - logged_cost
    share = gap / balance_drop if abs(balance_drop) > EPSILON else None
    if abs(gap) <= EPSILON:
        return Reconcile(0.0, share, "match")
    if _within_rounding(gap, balance_drop, logged_cost):
        return Reconcile(gap, share, "rounding")
    if topup > TOPUP_TOLERANCE and _within_rounding(gap + topup, balance_drop + topup, logged_cost):
        return Reconcile(gap, share, "topup")
    late = gap < 0 and untracked > TOPUP_TOLERANCE
    if late and _within_rounding(gap + untracked, balance_drop, logged_cost - untracked):
        return Reconcile(gap, share, "tracking_late")
    if gap > 0 and capped:
        return Reconcile(gap, share, "logs_capped")
    if gap > 0 and scope == "account":
        return Reconcile(gap, share, "untracked_keys")
    if gap < 0 and topup > TOPUP_TOLERANCE:
        return Reconcile(gap, share, "topup")
    if late:  # part of the gap at least: say so rather than "no known cause"
        return Reconcile(gap, share, "tracking_late")
    return Reconcile(gap, share, "unexplained")


def _within_rounding(gap: float, drop: float, cost: float) -> bool:
    return abs(gap) <= max(ROUNDING_ABS, ROUNDING_SHARE * max(abs(drop), abs(cost)))


def expiry_countdown(expires_at: datetime | None, now: datetime) -> Countdown | None:
    """Whole days and hours until expiry; None for keys that never expire."""
    if expires_at is None:
        return None
    left = expires_at - now
    if left <= timedelta(0):
        return Countdown(0, 0, True)
    return Countdown(left.days, left.seconds // 3600, False)
