"""Moonshot (Kimi): /v1/users/me/balance (the account; CNY on .cn, USD on .ai)."""

from __future__ import annotations

from urllib.parse import urlsplit

from .. import http
from ..balance import Balance, parse_models
from ..calls import MODELS
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

BALANCE_PATH = "/v1/users/me/balance"


def recognise(answer: http.Answer) -> bool:
    """The balance call answers Moonshot's shape, or its invalid_authentication_error."""
    data = answer.data if isinstance(answer.data, dict) else None
    if data is None:
        return False
    if answer.ok:
        return isinstance(data.get("data"), dict) and "available_balance" in data["data"]
    err = data.get("error")
    return (
        answer.kind == http.DENIED
        and isinstance(err, dict)
        and err.get("type") == "invalid_authentication_error"
    )


def denial(status: int | None, message: str, data: object) -> tuple[str, str] | None:
    """Moonshot's 401 "Invalid Authentication": no such key."""
    if status == 401 and text_has(message, "invalid authentication"):
        return "invalid", "invalid_key"
    return None


def unit_of(base_url: str) -> str:
    """USD on api.moonshot.ai, CNY everywhere else (api.moonshot.cn)."""
    host = urlsplit(base_url).hostname or ""
    return "USD" if host.endswith("moonshot.ai") else "CNY"


def lookup(base_url: str, key: str, *, timeout=http.DEFAULT_TIMEOUT) -> Balance:
    """The account balance and the key's models, in parallel."""
    unit = unit_of(base_url)
    answers = ask(base_url, key, BALANCE_PATH, MODELS, timeout=timeout)
    answer, models = answers[BALANCE_PATH], answers[MODELS]
    data = answer.data.get("data") if answer.ok and isinstance(answer.data, dict) else None
    if not isinstance(data, dict):
        return refusal(family_info(unit), [answer, models], denial)
    balance = from_balance(data, unit)
    balance.answered_by.append(BALANCE_PATH)
    if models.ok:
        balance.models = parse_models(models.data)
        balance.answered_by.append(MODELS)
    return balance


def from_balance(data: dict, unit: str) -> Balance:
    """available_balance ≤ 0 means the API cannot be called; cash may be negative (arrears)."""
    available = round6(number(data.get("available_balance")))
    balance = Balance(
        status="exhausted" if available <= 0 else "active",
        info=family_info(unit),
        unit=unit,
        remaining=available,
        scope="account",
        balances=[
            {
                "currency": unit,
                "total": available,
                "granted": round6(number(data.get("voucher_balance"))),
                "topped_up": round6(number(data.get("cash_balance"))),
            }
        ],
    )
    balance.reason = None if balance.status == "active" else balance.status
    return balance


FAMILY = Family(
    name="moonshot",
    label="Moonshot (Kimi)",
    can=frozenset({BALANCE, VALIDITY, REACHABILITY}),
    lookup=lookup,
    order=40,
    hosts=("api.moonshot.cn", "api.moonshot.ai"),
    detect_path=BALANCE_PATH,
    recognise=recognise,
    scope="account",
    money=("CNY", "USD"),
)
