"""Routine polls: the billing pair first, /api/usage/token only when the pair cannot tell."""

from __future__ import annotations

from . import http
from .balance import Balance, _decisive, _denied, _usage_token_data, from_billing, from_usage_token
from .calls import BILLING_USAGE, SUBSCRIPTION, USAGE_TOKEN, call, fan_out
from .info import NEW_API_2026, STATUS_CACHE, RelayInfo, fetch_status

# What one routine poll costs against a relay's global budget.
POLL_PATHS = (SUBSCRIPTION, BILLING_USAGE)
# Pair outcomes worth one critical call on new-api 2026: a 401 that may hide exhausted/expired
# (recent new-api says "Invalid token" for all three), or a pair that broke on the relay side.
_ASK_USAGE_TOKEN = {"refused", "invalid_key", "relay_error", "malformed", "no_balance_endpoint"}


def poll_info(base_url: str, timeout=http.DEFAULT_TIMEOUT) -> RelayInfo | None:
    """Cached RelayInfo for a poll; None while a rate limit (ours or the relay's) says wait."""
    info = STATUS_CACHE.peek(base_url)
    if info is not None:
        return info
    info, answer = fetch_status(base_url, timeout, background=True)
    return None if answer.kind == http.RATE_LIMITED else info


def poll_balance(
    base_url: str,
    key: str,
    info: RelayInfo,
    *,
    timeout=http.DEFAULT_TIMEOUT,
    prepaid=False,
    background: bool = True,
) -> Balance:
    """One routine poll; `prepaid`: the caller already reserved POLL_PATHS in the budget.

    `background=False` when a person asked (a key's refresh): the follow-up /api/usage/token
    may then use the share of the budget kept for people.
    """
    jobs = {
        p: (lambda p=p: call(base_url, p, key, timeout=timeout, prepaid=prepaid))
        for p in POLL_PATHS
    }
    answers = fan_out(jobs)
    balance = from_billing(info, answers[SUBSCRIPTION], answers[BILLING_USAGE])
    if balance.answered_by and BILLING_USAGE not in balance.answered_by:
        balance.notes.append("partial")  # the subscription answered, the usage did not
    if info.generation == NEW_API_2026 and balance.reason in _ASK_USAGE_TOKEN:
        # In the background a person's lookup has first claim on this 20-per-20-min call.
        usage = call(base_url, USAGE_TOKEN, key, timeout=timeout, background=background)
        if _decisive(usage):
            data = _usage_token_data(usage)
            if data is not None:
                balance = from_usage_token(info, data)
                balance.answered_by.append(USAGE_TOKEN)
            else:
                balance = _denied(info, usage, collapsed=False)
        elif balance.status == "refused" and usage.retry_after:
            balance.retry_in = usage.retry_after  # undecided until that call can be made
    return balance
