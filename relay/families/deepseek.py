"""DeepSeek: /user/balance (the account's balance in each currency, amounts as strings)."""

from __future__ import annotations

from .. import http
from ..balance import Balance, parse_models
from ..calls import MODELS
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

BALANCE_PATH = "/user/balance"
PREFERRED = ("CNY", "USD")


def recognise(answer: http.Answer) -> bool:
    """/user/balance answers balance_infos, or DeepSeek's authentication_error without a key."""
    data = answer.data if isinstance(answer.data, dict) else None
    if data is None:
        return False
    if answer.ok:
        return isinstance(data.get("balance_infos"), list)
    err = data.get("error")
    return (
        answer.kind == http.DENIED
        and isinstance(err, dict)
        and err.get("type") == "authentication_error"
    )


def denial(status: int | None, message: str, data: object) -> tuple[str, str] | None:
    """DeepSeek's 401 is "Authentication Fails": the key does not exist (402 is for no money)."""
    if status == 401 and text_has(message, "authentication fails", "invalid"):
        return "invalid", "invalid_key"
    return None


def lookup(base_url: str, key: str, *, timeout=http.DEFAULT_TIMEOUT) -> Balance:
    """The account's balances and the key's models, in parallel."""
    answers = ask(base_url, key, BALANCE_PATH, MODELS, timeout=timeout)
    answer, models = answers[BALANCE_PATH], answers[MODELS]
    if not answer.ok or not isinstance(answer.data, dict):
        return refusal(family_info("CNY"), [answer, models], denial)
    balance = from_balance(answer.data)
    balance.answered_by.append(BALANCE_PATH)
    if models.ok:
        balance.models = parse_models(models.data)
        balance.answered_by.append(MODELS)
    return balance


def from_balance(data: dict) -> Balance:
    """Every currency listed; the figures shown are CNY's (else the first)."""
    rows = []
    for item in data.get("balance_infos") or []:
        if not isinstance(item, dict) or not isinstance(item.get("currency"), str):
            continue
        rows.append(
            {
                "currency": item["currency"][:8].upper(),
                "total": _amount(item.get("total_balance")),
                "granted": _amount(item.get("granted_balance")),
                "topped_up": _amount(item.get("topped_up_balance")),
            }
        )
    main = next(
        (r for c in PREFERRED for r in rows if r["currency"] == c), rows[0] if rows else None
    )
    unit = main["currency"] if main else None
    balance = Balance(
        status="active",
        info=family_info(unit),
        unit=unit,
        remaining=main["total"] if main else None,
        scope="account",
        balances=rows,
    )
    if data.get("is_available") is False:
        balance.status = "exhausted"  # the account cannot call the API
    balance.reason = None if balance.status == "active" else balance.status
    return balance


def _amount(value: object) -> float | None:
    """DeepSeek sends amounts as strings ("110.00"); anything unreadable stays unknown."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, str | int | float) else None
    except ValueError:
        return None
    if number is None or number != number or abs(number) > 1e15:
        return None
    return round6(number)


FAMILY = Family(
    name="deepseek",
    label="DeepSeek",
    can=frozenset({BALANCE, VALIDITY, REACHABILITY}),
    lookup=lookup,
    order=40,
    hosts=("api.deepseek.com",),
    detect_path=BALANCE_PATH,
    recognise=recognise,
    scope="account",
    money=("CNY", "USD"),
)
