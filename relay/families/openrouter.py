"""OpenRouter: /v1/key (this key's limit and usage, USD) and /v1/credits (the account)."""

from __future__ import annotations

import time

from .. import http
from ..balance import Balance
from ..values import number
from .base import (
    BALANCE,
    REACHABILITY,
    VALIDITY,
    Family,
    ask,
    family_info,
    refusal,
    round6,
    text_has,
)
from .dates import iso_seconds

KEY = "/v1/key"
CREDITS = "/v1/credits"


def recognise(answer: http.Answer) -> bool:
    """/v1/key answers with OpenRouter's own JSON (a 401 {"error": {"code": 401}} without a key)."""
    data = answer.data if isinstance(answer.data, dict) else None
    if data is None:
        return False
    if answer.ok:
        return isinstance(data.get("data"), dict) and "limit_remaining" in data["data"]
    err = data.get("error")
    return answer.kind == http.DENIED and isinstance(err, dict) and err.get("code") == 401


def denial(status: int | None, message: str, data: object) -> tuple[str, str] | None:
    """OpenRouter's 401 texts: a disabled key, or no such user/key."""
    if text_has(message, "disabled"):
        return "disabled", "disabled"
    if text_has(message, "expired"):
        return "expired", "expired"
    if status == 401 and text_has(message, "not found", "invalid", "no auth credentials"):
        return "invalid", "invalid_key"
    return None


def lookup(base_url: str, key: str, *, timeout=http.DEFAULT_TIMEOUT) -> Balance:
    """The key's own figures; the account's credits beside them when the key may read them."""
    answers = ask(base_url, key, KEY, CREDITS, timeout=timeout)
    answer = answers[KEY]
    data = answer.data.get("data") if answer.ok and isinstance(answer.data, dict) else None
    if not isinstance(data, dict):
        return refusal(family_info("USD"), [answer], denial)
    balance = from_key(data)
    balance.answered_by.append(KEY)
    credits = answers[CREDITS]
    figures = credits.data.get("data") if credits.ok and isinstance(credits.data, dict) else None
    if isinstance(figures, dict):
        total, used = number(figures.get("total_credits")), number(figures.get("total_usage"))
        balance.account = {
            "total": round6(total),
            "used": round6(used),
            "remaining": round6(total - used),
            "unit": "USD",
        }
        balance.answered_by.append(CREDITS)
    return balance


def from_key(data: dict) -> Balance:
    """limit null = no cap; limit_remaining, usage; USD, this key."""
    limit = data.get("limit")
    unlimited = not isinstance(limit, int | float) or isinstance(limit, bool)
    usage = number(data.get("usage"))
    left = data.get("limit_remaining")
    remaining = None
    if not unlimited:
        remaining = number(left) if isinstance(left, int | float) else number(limit) - usage
    expires = iso_seconds(data.get("expires_at"))
    balance = Balance(
        status="active",
        info=family_info("USD"),
        unit="USD",
        unlimited=unlimited,
        used=round6(usage),
        total=None if unlimited else round6(number(limit)),
        remaining=round6(remaining),
        expires_at=expires,
        expiry_stated="expires_at" in data,
        token_name=data.get("label") if isinstance(data.get("label"), str) else None,
        scope="token",
    )
    reset = data.get("limit_reset")
    if isinstance(reset, str) and reset:
        balance.budget = {"duration": reset, "reset_at": None}
    if expires is not None and expires < time.time():
        balance.status = "expired"
    elif remaining is not None and remaining <= 0:
        balance.status = "exhausted"
    balance.reason = None if balance.status == "active" else balance.status
    return balance


FAMILY = Family(
    name="openrouter",
    label="OpenRouter",
    can=frozenset({BALANCE, VALIDITY, REACHABILITY}),
    lookup=lookup,
    order=30,
    hosts=("openrouter.ai",),
    detect_path=KEY,
    recognise=recognise,
    scope="token",
    money=("USD",),
)
