"""Client-side request budgets, so relaydash stays under a relay's per-IP limits.

new-api allows 180 calls per 3 min on /api/* and /v1/dashboard/* (one-api 480), and only 20 per
20 min on /api/usage/token and /api/log/token; past that it answers an empty-body 429 for the
whole server IP. We count our own calls and, after a 429, stop calling until the window passes.
"""

from __future__ import annotations

import threading
import time
from collections import deque

CRITICAL = "critical"
GLOBAL = "global"

# (calls, seconds). Slightly under the relay defaults so manual use of the relay still fits.
DEFAULT_LIMITS = {CRITICAL: (18, 1200.0), GLOBAL: (150, 180.0)}
# How long to hold off after a 429 whose window we cannot see.
COOLDOWN = {CRITICAL: 300.0, GLOBAL: 60.0}

CRITICAL_PATHS = ("/api/usage/token", "/api/log/token")


def group_of(path: str) -> str | None:
    """Which relay limiter a path falls under (None: not limited per IP)."""
    if path.startswith(CRITICAL_PATHS):
        return CRITICAL
    if path.startswith(("/api/", "/v1/dashboard/", "/dashboard/")):
        return GLOBAL
    return None


class Window:
    """A sliding-window counter with an optional hold after a 429."""

    def __init__(self, limit: int, seconds: float):
        self.limit = limit
        self.seconds = seconds
        self.calls: deque[float] = deque()
        self.blocked_until = 0.0

    def _trim(self, now: float) -> None:
        while self.calls and self.calls[0] <= now - self.seconds:
            self.calls.popleft()

    def wait_time(self, now: float) -> float:
        """Seconds until one more call fits (0 = now)."""
        self._trim(now)
        wait = max(0.0, self.blocked_until - now)
        if self.limit and len(self.calls) >= self.limit:
            wait = max(wait, self.calls[0] + self.seconds - now)
        return wait


class Budgets:
    """All windows, keyed by (base URL, limiter group)."""

    def __init__(self, limits: dict[str, tuple[int, float]] | None = None):
        self.limits = dict(limits or DEFAULT_LIMITS)
        self._windows: dict[tuple[str, str], Window] = {}
        self._lock = threading.Lock()

    def _window(self, base_url: str, group: str) -> Window:
        key = (base_url, group)
        if key not in self._windows:
            self._windows[key] = Window(*self.limits[group])
        return self._windows[key]

    def spend(self, base_url: str, path: str) -> float:
        """Record one call if it fits and return 0; else return the seconds to wait."""
        group = group_of(path)
        if group is None:
            return 0.0
        now = time.monotonic()
        with self._lock:
            window = self._window(base_url, group)
            wait = window.wait_time(now)
            if wait == 0.0:
                window.calls.append(now)
            return wait

    def wait_time(self, base_url: str, path: str) -> float:
        """Seconds until a call to path would fit, without spending."""
        group = group_of(path)
        if group is None:
            return 0.0
        with self._lock:
            return self._window(base_url, group).wait_time(time.monotonic())

    def hit_limit(self, base_url: str, path: str, retry_after: float | None) -> float:
        """The relay said 429: hold this group off and return how long."""
        group = group_of(path)
        if group is None:
            # e.g. a model rate limit on /v1/models: nothing to hold, the billing pair is fine.
            return retry_after if retry_after is not None else COOLDOWN[GLOBAL]
        now = time.monotonic()
        with self._lock:
            window = self._window(base_url, group)
            hold = retry_after if retry_after is not None else COOLDOWN[group]
            window.blocked_until = max(window.blocked_until, now + hold)
            return window.wait_time(now)

    def clear(self) -> None:
        """Forget every window (tests, and after an admin changes a provider)."""
        with self._lock:
            self._windows.clear()


BUDGETS = Budgets()
