"""A key's balance through the fallback chain of relay-api.md, in about one round trip."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import http
from .calls import BILLING_USAGE, MODELS, SUBSCRIPTION, USAGE_TOKEN, call, fan_out
from .classify import failure, status_from_denial
from .info import NEW_API_2025, NEW_API_2026, ONE_API, STATUS_CACHE, RelayInfo, fetch_status
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
    expires_at: int | None = None  # unix seconds; None = never, or not stated (expiry_stated)
    expiry_stated: bool = False  # the relay said when (or that never) the key expires
    token_name: str | None = None
    scope: str | None = None  # "token", "account" or None when the relay does not say
    models: list[str] | None = None
    answered_by: list[str] = field(default_factory=list)
    reason: str | None = None  # machine code for a non-active status
    http_status: int | None = None
    retry_in: float | None = None
    notes: list[str] = field(default_factory=list)
    checked_at: float = field(default_factory=time.time)
    family: str | None = None  # relay family that answered (relay.families); None: unknown
    balance_published: bool = True  # False: this relay has no balance call for keys
    balances: list[dict] = field(default_factory=list)  # every currency, when there are several
    budget: dict | None = None  # a spending window: {"duration", "reset_at"} (LiteLLM, OpenRouter)
    account: dict | None = None  # the account's own figures beside the key's (OpenRouter)
    figures_error: str | None = None  # why an active key has no figures this time (a reason code)

    @property
    def remaining_usd(self) -> float | None:
        """The remaining amount as USD of quota, for purchase-rate money."""
        if self.family not in (None, "one-api", "new-api"):
            return self.remaining if self.unit == "USD" else None
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
    models = answers.get(MODELS)
    refused = models is not None and models.kind == http.DENIED
    if SUBSCRIPTION not in answers and not _decisive(usage) and not refused:
        # Rare second round trip: new-api 2026 could not serve /api/usage/token this time.
        # Not when /v1/models was refused: the pair sits behind the same TokenAuth.
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
        # TokenAuthReadOnly lets spent and expired keys through: its 401 means what it says.
        balance = _denied(info, usage, collapsed=False)
    else:
        balance = from_billing(
            info, answers.get(SUBSCRIPTION), answers.get(BILLING_USAGE), answers.get(MODELS)
        )
        if balance.status == "refused" and usage is not None and usage.retry_after:
            # The call that tells invalid from spent was held back: say when it can be asked.
            balance.retry_in = usage.retry_after
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
        expiry_stated=True,  # 0 is the relay's own word for "never"
        token_name=data.get("name") if isinstance(data.get("name"), str) else None,
        scope="token",
    )
    limits = data.get("model_limits")
    if data.get("model_limits_enabled") and isinstance(limits, dict):
        balance.models = sorted(name for name, allowed in limits.items() if allowed)
    balance.reason = None if balance.status == "active" else balance.status
    return balance


def from_billing(
    info: RelayInfo,
    sub: http.Answer | None,
    usage: http.Answer | None,
    models: http.Answer | None = None,
) -> Balance:
    """The OpenAI-style billing pair: hard_limit_usd and total_usage/100, in the display unit."""
    if sub is None or not sub.ok or not isinstance(sub.data, dict):
        if models is not None and models.ok:
            # /v1/models answered with this key, so the key works; only the figures are missing.
            _, reason, http_status, retry_in = failure([a for a in (sub, usage) if a is not None])
            return Balance(
                status="active",
                info=info,
                figures_error=reason,
                http_status=http_status,
                retry_in=retry_in,
            )
        return _failed(info, [a for a in (sub, usage, models) if a is not None])
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
    # 0 is "never" for a token but always 0 for an account: only a date states anything.
    balance.expiry_stated = access_until is not None
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


def collapsed(info: RelayInfo) -> bool:
    """True when this relay's TokenAuth may say "invalid" for spent, expired or disabled keys too.

    one-api and new-api 2025 name each state; new-api 2026 (and a relay whose /api/status did
    not answer, so we cannot tell) may collapse them all into "Invalid token".
    """
    return info.generation not in (ONE_API, NEW_API_2025)


def _denied(info: RelayInfo, answer: http.Answer, *, collapsed: bool) -> Balance:
    status, reason = status_from_denial(answer.status, answer.message, collapsed=collapsed)
    return Balance(status=status, info=info, reason=reason, http_status=answer.status)


def _failed(info: RelayInfo, answers: list[http.Answer]) -> Balance:
    status, reason, http_status, retry_in = failure(answers, collapsed=collapsed(info))
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
