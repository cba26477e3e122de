"""Does a provider's request budget fit its keys' poll intervals? If not, what would."""

from __future__ import annotations

import math
from collections.abc import Iterable

from blueprints.providers.service import known_family
from relay import POLL_PATHS

from .models import MIN_INTERVAL, TrackedKey

# /api/status is re-read every 10 minutes per provider and spends the same budget.
STATUS_EVERY = 600


def budget_advice(provider, keys: Iterable[TrackedKey | int]) -> dict | None:
    """None when the polls fit the budget; else the numbers the keys page shows.

    `keys` are TrackedKeys (paused ones are ignored) or bare intervals in seconds, so the page
    can ask about a key before it is saved.
    """
    family = known_family(provider)
    if family is not None and not family.poll_paths:
        return None  # its polls call nothing that is limited per IP
    budget, window = int(provider.request_budget or 0), int(provider.budget_seconds or 0)
    intervals = [k if isinstance(k, int) else k.poll_interval for k in keys if _active(k)]
    if budget <= 0 or window <= 0 or not intervals:
        return None
    per_poll = len(POLL_PATHS)
    overhead = math.ceil(window / STATUS_EVERY)
    needed = overhead + sum(per_poll * window / max(MIN_INTERVAL, i) for i in intervals)
    if needed <= budget:
        return None
    room = budget - overhead
    fit = per_poll * len(intervals) * window / room if room > 0 else None
    return {
        "keys": len(intervals),
        "calls_per_poll": per_poll,
        "calls_needed": math.ceil(needed),
        "budget": budget,
        "budget_seconds": window,
        "fit_interval_minutes": max(MIN_INTERVAL // 60, math.ceil(fit / 60)) if fit else None,
    }


def _active(key: TrackedKey | int) -> bool:
    return isinstance(key, int) or not key.paused
