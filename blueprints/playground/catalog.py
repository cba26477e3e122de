"""The models a key may use (its /v1/models), cached a few minutes under an HMAC of the key."""

from __future__ import annotations

from flask import current_app

from blueprints.providers.connect import timeouts
from blueprints.shared.cache import TTLCache, fingerprint
from relay import STATUS_CACHE, chat, relay_info

MODELS = TTLCache(max_items=512)


def models(base_url: str, key: str) -> tuple[list[str] | None, object]:
    """(sorted model ids or None, the relay's answer or None when cached); successes cached."""
    name = fingerprint("models:" + base_url, key)
    cached = MODELS.get(name)
    if cached is not None:
        return cached, None
    answer, found = chat.models(base_url, key, timeout=timeouts())
    if found is not None:
        MODELS.set(name, found, float(current_app.config["PLAYGROUND_MODELS_SECONDS"]))
    return found, answer


def money_unit(base_url: str, *, fetch: bool = False) -> str | None:
    """USD / CNY / quota as the relay's /api/status says (fetch=False: only if cached)."""
    info = relay_info(base_url, timeouts()) if fetch else STATUS_CACHE.peek(base_url)
    return info.unit if info is not None and info.answered else None
