"""Sort relay failures into one lookup status and a reason code (texts live in the UI)."""

from __future__ import annotations

import re

from . import http

# Substrings of the 401/403 texts of one-api and new-api, zh and en (relay-api.md §1, §5).
_EXPIRED = ("已过期", "expired")
_EXHAUSTED = ("额度已用尽", "额度不足", "exhausted", "quota is not enough", "insufficient")
_DISABLED = ("状态不可用", "status unavailable", "status_unavailable", "disabled")
_BANNED = ("封禁", "banned")
# What one-api and new-api say when no such key exists ("未提供令牌": none was sent at all).
_NO_SUCH_KEY = ("无效的令牌", "invalid token", "未提供令牌", "not provided", "no authorization")
_IP = re.compile(r"\bip\b|subnet|access_denied|不允许|not allowed", re.IGNORECASE)

# When answers disagree, the most telling failure wins.
_PRIORITY = (
    http.BLOCKED,
    http.DENIED,
    http.RATE_LIMITED,
    http.SERVER_ERROR,
    http.REJECTED,
    http.MALFORMED,
    http.TIMEOUT,
    http.RESET,
    http.UNREACHABLE,
    http.NOT_FOUND,
    http.HTML,
)


def status_from_denial(
    status: int | None, message: str, *, collapsed: bool = False
) -> tuple[str, str]:
    """Map a 401/403 (and its text) to (status, reason).

    "invalid" only when the relay said the key does not exist and its "no such key" text means
    only that (`collapsed`: it may also stand for spent, expired or disabled). Any other refusal
    is "refused": the relay refused the key without saying why.
    """
    text = (message or "").lower()
    # Exhausted first: new-api's exhaustion text embeds the token's own (user-chosen) name.
    if any(mark in text for mark in _EXHAUSTED):
        return "exhausted", "exhausted"
    if any(mark in text for mark in _EXPIRED):
        return "expired", "expired"
    if any(mark in text for mark in _BANNED):
        return "disabled", "user_banned"
    if any(mark in text for mark in _DISABLED):
        return "disabled", "disabled"
    if status == 403:
        if _IP.search(text):
            return "error", "ip_not_allowed"
        return "error", "forbidden"
    if not collapsed and any(mark in text for mark in _NO_SUCH_KEY):
        return "invalid", "invalid_key"
    return "refused", "refused"


def failure(
    answers: list[http.Answer], *, collapsed: bool = False
) -> tuple[str, str, int | None, float | None]:
    """(status, reason, http_status, retry_in) for a lookup where nothing usable answered."""
    by_kind = {a.kind: a for a in reversed(answers)}
    # The relay's own 429 is the evidence: a sibling call that our budget then held back (its
    # hold, shared by every process, can land between two calls of one lookup) says less.
    said = [a for a in answers if a.kind == http.RATE_LIMITED and a.message != "budget"]
    if said:
        by_kind[http.RATE_LIMITED] = said[0]
    for kind in _PRIORITY:
        answer = by_kind.get(kind)
        if answer is None:
            continue
        if kind == http.DENIED:
            status, reason = status_from_denial(answer.status, answer.message, collapsed=collapsed)
            return status, reason, answer.status, None
        if kind == http.RATE_LIMITED:
            reason = "budget" if answer.message == "budget" else "relay_rate_limited"
            return "rate_limited", reason, answer.status, answer.retry_after
        if kind == http.BLOCKED:
            return "error", "blocked_address", None, None
        if kind in (http.TIMEOUT, http.RESET, http.UNREACHABLE):
            return "unreachable", kind, None, None
        if kind in (http.NOT_FOUND, http.HTML):
            return "error", "no_balance_endpoint", answer.status, None
        return (
            "error",
            "malformed" if kind == http.MALFORMED else "relay_error",
            answer.status,
            None,
        )
    return "error", "no_answer", None, None
