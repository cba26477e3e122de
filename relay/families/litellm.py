"""LiteLLM proxy: /key/info (max_budget - spend, USD, this key), /health/liveliness to detect."""

from __future__ import annotations

import time

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
from .dates import iso_seconds

KEY_INFO = "/key/info"
LIVELINESS = "/health/liveliness"


def recognise(answer: http.Answer) -> bool:
    """/health/liveliness answers the JSON string "I'm alive!" without a key."""
    return answer.ok and isinstance(answer.data, str) and "alive" in answer.data.lower()


def denial(status: int | None, message: str, data: object) -> tuple[str, str] | None:
    """LiteLLM's 401 texts: blocked, expired, else an unknown key (only with a key database)."""
    kind = _type(data)
    if text_has(message, "no connected db") or kind == "no_db_connection":
        return "error", "no_key_db"
    if text_has(message, "blocked"):
        return "disabled", "disabled"
    if kind == "expired_key" or text_has(message, "expired"):
        return "expired", "expired"
    if kind == "budget_exceeded" or text_has(message, "budget has been exceeded"):
        return "exhausted", "exhausted"
    if status == 401 and kind == "auth_error":
        return "invalid", "invalid_key"  # with a key database, a 401 auth_error is an unknown key
    return None


def lookup(base_url: str, key: str, *, timeout=http.DEFAULT_TIMEOUT) -> Balance:
    """/key/info and /v1/models in parallel; the key's budget when /key/info answers."""
    answers = ask(base_url, key, KEY_INFO, MODELS, timeout=timeout)
    info, models = answers[KEY_INFO], answers[MODELS]
    data = info.data.get("info") if info.ok and isinstance(info.data, dict) else None
    if isinstance(data, dict):
        balance = from_key_info(data)
        balance.answered_by.append(KEY_INFO)
    elif models.ok:
        # /key/info is refused or missing (no key database): the key works, no figures.
        balance = Balance(status="active", info=family_info("USD"), balance_published=False)
    else:
        # "No connected db." also comes as a 400: read it before the generic failure table.
        said = [a for a in (models, info) if a.kind in (http.DENIED, http.REJECTED)]
        for answer in said:
            read = denial(answer.status, answer.message or "", answer.data)
            if read is not None:
                return Balance(
                    status=read[0],
                    info=family_info("USD"),
                    reason=read[1],
                    http_status=answer.status,
                )
        return refusal(family_info("USD"), [models, info], denial)
    if models.ok:
        listed = parse_models(models.data)
        balance.models = balance.models or listed
        balance.answered_by.append(MODELS)
    return balance


def from_key_info(data: dict) -> Balance:
    """Remaining = max_budget - spend (USD, this key); no max_budget means no cap."""
    spend = number(data.get("spend"))
    cap = data.get("max_budget")
    unlimited = not isinstance(cap, int | float) or isinstance(cap, bool)
    expires = iso_seconds(data.get("expires"))
    balance = Balance(
        status="active",
        info=family_info("USD"),
        unit="USD",
        unlimited=unlimited,
        used=round6(spend),
        total=None if unlimited else round6(number(cap)),
        remaining=None if unlimited else round6(number(cap) - spend),
        expires_at=expires,
        # null is LiteLLM's "never"; a date we cannot read states nothing we can show
        expiry_stated="expires" in data and (data["expires"] is None or expires is not None),
        token_name=data.get("key_alias") if isinstance(data.get("key_alias"), str) else None,
        scope="token",
    )
    models = data.get("models")
    if isinstance(models, list) and models:  # [] means every model
        balance.models = sorted({m for m in models if isinstance(m, str) and m})
    duration = data.get("budget_duration")
    if isinstance(duration, str) and duration:
        # spend then covers only the current window
        balance.budget = {
            "duration": duration,
            "reset_at": iso_seconds(data.get("budget_reset_at")),
        }
    if data.get("blocked") is True:
        balance.status = "disabled"
    elif expires is not None and balance.expiry_stated and _past(expires):
        balance.status = "expired"
    elif balance.remaining is not None and balance.remaining <= 0:
        balance.status = "exhausted"
    balance.reason = None if balance.status == "active" else balance.status
    return balance


def _past(seconds: int) -> bool:
    return seconds < time.time()


def _type(data: object) -> str:
    err = data.get("error") if isinstance(data, dict) else None
    return str(err.get("type") or "").lower() if isinstance(err, dict) else ""


FAMILY = Family(
    name="litellm",
    label="LiteLLM",
    can=frozenset({BALANCE, VALIDITY, REACHABILITY}),
    lookup=lookup,
    order=20,
    detect_path=LIVELINESS,
    recognise=recognise,
    reach_path=LIVELINESS,
    scope="token",
    money=("USD",),
)
