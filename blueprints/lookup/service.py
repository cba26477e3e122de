"""The lookup itself: provider + key → Balance (or request log), through the HMAC cache."""

from __future__ import annotations

from flask import current_app

import relay
from blueprints.providers.connect import connect
from blueprints.providers.models import Provider
from blueprints.providers.service import find_provider
from blueprints.shared.cache import TTLCache, fingerprint
from blueprints.shared.errors import Refusal
from relay import http
from relay.calls import LOG_TOKEN
from relay.families import LOG

# Outcomes that say something about the key; transient relay trouble is never cached, nor is
# "refused": a later call (once the budget returns) may tell which refusal it was.
_CACHEABLE = {"active", "exhausted", "expired", "disabled", "invalid"}

RESULTS = TTLCache()
LOGS = TTLCache(max_items=256)


class BadInput(Refusal):
    """Input we refuse; `code` picks the message, `status` the HTTP code."""

    def __init__(self, code: str, status: int = 400):
        super().__init__(code)
        self.status = status


def public_provider(name: str | None) -> Provider:
    """A provider the public may query (admin-configured, not hidden), or BadInput."""
    if not name:
        raise BadInput("missing_provider")
    provider = find_provider(name)
    if provider is None:
        raise BadInput("unknown_provider", 404)
    return provider


def lookup_key(provider: Provider, key: str) -> relay.Balance:
    """The key's balance; a repeat within RESULT_CACHE_SECONDS is served from memory."""
    # The admin's family choice is part of the name: changing it must not serve an old answer.
    name = fingerprint(f"balance:{provider.base_url}:{provider.kind}", key)
    cached = RESULTS.get(name)
    if cached is not None:
        return cached
    conn = connect(provider)
    balance = relay.lookup(conn.base_url, key, kind=provider.kind, timeout=conn.timeout)
    # An active key whose figures were missing this time would keep showing them missing.
    if balance.status in _CACHEABLE and not balance.figures_error:
        RESULTS.set(name, balance, current_app.config["RESULT_CACHE_SECONDS"])
    return balance


def load_log(provider: Provider, key: str) -> relay.LogResult:
    """The key's request log; cached, because the relay allows only ~20 reads per 20 min.

    A family without a per-key log gets a "skipped" result naming it (its `generation`), and
    no call is made.
    """
    name = fingerprint(f"log:{provider.base_url}", key)
    cached = LOGS.get(name)
    if cached is not None:
        return cached
    conn = connect(provider)
    family = relay.resolve(conn.base_url, provider.kind, conn.timeout)
    if family is not None and LOG not in family.can:
        skipped = http.Answer(LOG_TOKEN, http.SKIPPED)
        return relay.LogResult(skipped, None, False, "USD", family.name)
    info = relay.relay_info(conn.base_url, conn.timeout)
    result = relay.fetch_logs(conn.base_url, key, info, timeout=conn.timeout)
    if result.rows is not None:
        LOGS.set(name, result, current_app.config["LOG_CACHE_SECONDS"])
    return result
