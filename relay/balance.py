"""A key's balance through the fallback chain of relay-api.md, in about one round trip."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import http
from .calls import BILLING_USAGE, MODELS, SUBSCRIPTION, USAGE_TOKEN, call, fan_out
from .classify import failure, status_from_denial
from .info import NEW_API_2026, ONE_API, STATUS_CACHE, RelayInfo, fetch_status
from .values import number, timestamp

UNLIMITED_SENTINEL = 100000000  # what the billing pair sends for an unlimited token


@dataclass
class Balance:
    """Everything one lookup learned about a key. Amounts are in `unit`."""

    status: str
    info: RelayInfo
    unit: str | None = None
    unlimited: bool = False
    total: float | None = None
    used: float | None = None
    remaining: float | None = None
    expires_at: int | None = None  # unix seconds; None = never (or not stated)
    token_name: str | None = None
    scope: str | None = None  # "token", "account" or None when the relay does not say
    models: list[str] | None = None
    answered_by: list[str] = field(default_factory=list)
    reason: str | None = None  # machine code for a non-active status
    http_status: int | None = None
    retry_in: float | None = None
    notes: list[str] = field(default_factory=list)
    checked_at: float = field(default_factory=time.time)

    @property
    def remaining_usd(self) -> float | None:
        """The remaining amount as USD of quota, for purchase-rate money."""
        return self.info.to_usd(self.remaining)


def lookup(base_url: str, key: str, *, timeout=http.DEFAULT_TIMEOUT) -> Balance:
    """Look a key up: fan the endpoints out in parallel, then pick the best answer."""
    info = STATUS_CACHE.peek(base_url)
    if info is None:
        paths = (USAGE_TOKEN, SUBSCRIPTION, BILLING_USAGE, MODELS)
    elif info.generation == NEW_API_2026:
        paths = (USAGE_TOKEN, MODELS)
    else:
        # one-api and new-api 2025 have no /api/usage/token: do not spend budget on it.
        paths = (SUBSCRIPTION, BILLING_USAGE, MODELS)
    jobs = {p: (lambda p=p: call(base_url, p, key, timeout=timeout)) for p in paths}
    if info is None:
        jobs["status"] = lambda: fetch_status(base_url, timeout)
    answers: dict = fan_out(jobs)
    if info is None:
        info, _ = answers.pop("status")
    usage = answers.get(USAGE_TOKEN)
    if SUBSCRIPTION not in answers and not _decisive(usage):
        # Rare second round trip: new-api 2026 could not serve /api/usage/token this time.
        answers.update(
            fan_out({p: (lambda p=p: call(base_url, p, key, timeout=timeout)) for p in _PAIR})
        )
    return combine(info, answers)


_PAIR = (SUBSCRIPTION, BILLING_USAGE)


def combine(info: RelayInfo, answers: dict[str, http.Answer]) -> Balance:
    """Turn the endpoint answers into one Balance, best source first."""
    usage = answers.get(USAGE_TOKEN)
    if usage is not None and _usage_token_data(usage) is not None:
        balance = from_usage_token(info, _usage_token_data(usage))
        balance.answered_by.append(USAGE_TOKEN)
    elif usage is not None and usage.kind == http.DENIED and usage.status == 401:
        balance = _denied(info, usage)
    else:
        balance = from_billing(info, answers.get(SUBSCRIPTION), answers.get(BILLING_USAGE))
    models = answers.get(MODELS)
    if balance.models is None and models is not None and models.ok:
        balance.models = parse_models(models.data)
        if balance.models is not None:
            balance.answered_by.append(MODELS)
    if info.answered:
        balance.answered_by.insert(0, "/api/status")
    return balance


def from_usage_token(info: RelayInfo, data: dict) -> Balance:
    """new-api's /api/usage/token: raw quota, token scope, works for spent and expired keys."""
    unlimited = bool(data.get("unlimited_quota"))
    used = info.from_quota(number(data.get("total_used")))
    total = None if unlimited else info.from_quota(number(data.get("total_granted")))
    remaining = None if unlimited else info.from_quota(number(data.get("total_available")))
    expires = timestamp(data.get("expires_at"))
    balance = Balance(
        status=_status(unlimited, remaining, expires),
        info=info,
        unit=info.unit,
        unlimited=unlimited,
        total=_round(total),
        used=_round(used),
        remaining=_round(remaining),
        expires_at=expires,
        token_name=data.get("name") if isinstance(data.get("name"), str) else None,
        scope="token",
    )
    limits = data.get("model_limits")
    if data.get("model_limits_enabled") and isinstance(limits, dict):
        balance.models = sorted(name for name, allowed in limits.items() if allowed)
    balance.reason = None if balance.status == "active" else balance.status
    return balance


def from_billing(info: RelayInfo, sub: http.Answer | None, usage: http.Answer | None) -> Balance:
    """The OpenAI-style billing pair: hard_limit_usd and total_usage/100, in the display unit."""
    if sub is None or not sub.ok or not isinstance(sub.data, dict):
        return _failed(info, [a for a in (sub, usage) if a is not None])
    hard = number(sub.data.get("hard_limit_usd"))
    # Exactly the sentinel: in raw-quota display a big token can exceed 1e8 legitimately.
    unlimited = abs(hard - UNLIMITED_SENTINEL) < 1e-6
    access_until = timestamp(sub.data.get("access_until"))
    used = None
    if usage is not None and usage.ok and isinstance(usage.data, dict):
        used = number(usage.data.get("total_usage")) / 100
    balance = Balance(status="active", info=info, unit=info.unit, unlimited=unlimited)
    balance.answered_by.append(SUBSCRIPTION)
    balance.used = _round(used)
    if used is not None:
        balance.answered_by.append(BILLING_USAGE)
    if not unlimited:
        balance.total = _round(hard)
        balance.remaining = _round(hard - used) if used is not None else None
        if balance.remaining is not None and balance.remaining < 0 and info.generation == ONE_API:
            # Old one-api in account mode sends the *remaining* quota as hard_limit_usd.
            balance.remaining, balance.total = _round(hard), _round(hard + used)
            balance.notes.append("remaining_only")
    balance.expires_at = access_until
    # access_until is only ever set for a token; account mode always sends 0.
    balance.scope = "token" if access_until else None
    balance.status = _status(unlimited, balance.remaining, access_until)
    balance.reason = None if balance.status == "active" else balance.status
    return balance


def parse_models(data: object) -> list[str] | None:
    """Model ids from any /v1/models shape (always read `data`)."""
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    ids = {item.get("id") for item in items if isinstance(item, dict)}
    return sorted(i for i in ids if isinstance(i, str) and i)


def _usage_token_data(answer: http.Answer) -> dict | None:
    if not answer.ok or not isinstance(answer.data, dict) or answer.data.get("code") is not True:
        return None
    data = answer.data.get("data")
    return data if isinstance(data, dict) else None


def _decisive(answer: http.Answer | None) -> bool:
    """True when /api/usage/token settled the question (data, or a clear 401)."""
    if answer is None:
        return False
    return _usage_token_data(answer) is not None or (
        answer.kind == http.DENIED and answer.status == 401
    )


def _denied(info: RelayInfo, answer: http.Answer) -> Balance:
    status, reason = status_from_denial(answer.status, answer.message)
    return Balance(status=status, info=info, reason=reason, http_status=answer.status)


def _failed(info: RelayInfo, answers: list[http.Answer]) -> Balance:
    status, reason, http_status, retry_in = failure(answers)
    return Balance(
        status=status, info=info, reason=reason, http_status=http_status, retry_in=retry_in
    )


def _status(unlimited: bool, remaining: float | None, expires_at: int | None) -> str:
    if expires_at and expires_at < time.time():
        return "expired"
    if not unlimited and remaining is not None and remaining <= 0:
        return "exhausted"
    return "active"


def _round(value: float | None) -> float | None:
    # The relays divide integers by 500000 and multiply by 100: drop the float dust.
    return None if value is None else round(value, 6)
