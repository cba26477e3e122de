"""Client-side request budgets, so relaydash stays under a relay's per-IP limits.

new-api allows 180 calls per 3 min on /api/* and /v1/dashboard/* (one-api 480), and only 20 per
20 min on /api/usage/token and /api/log/token; past that it answers an empty-body 429 for the
whole server IP. We count our own calls and, after a 429, stop calling until the window passes.
A provider's own request budget (configure()) replaces the global limit for its base URL; the
relay's global limiter also covers the critical paths, so for such a URL they count in both.
People come first: background callers (the poller, probes, log ingest) may fill a window only up
to its limit less RESERVE[group], so a share always stays free for interactive lookups.

Every process keeps its own windows (for waits and room), but with several workers or machines
the relay counts all of them together, so a call is finally paid for in a shared counter
(`Budgets.shared`, a SharedWindows the app injects: Redis or the database; relay/ knows neither).
A call goes out only when both this process's window and the shared one have room.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Protocol

CRITICAL = "critical"
GLOBAL = "global"

# (calls, seconds). Slightly under the relay defaults so manual use of the relay still fits.
DEFAULT_LIMITS = {CRITICAL: (18, 1200.0), GLOBAL: (150, 180.0)}
# How long to hold off after a 429 whose window we cannot see.
COOLDOWN = {CRITICAL: 300.0, GLOBAL: 60.0}
# Repeated 429s right after a hold double it, up to this many times the cooldown.
MAX_ESCALATION = 16
# A configured budget frees a slot this much later than the window says: our clock starts when
# we decide to call, the relay's when the request lands.
SLACK = 1.0

# Windows larger than this are not counted in the shared store (in effect no limit; a bench).
SHARED_MAX = 10_000

CRITICAL_PATHS = ("/api/usage/token", "/api/log/token")
# Share of each window that background callers leave for people (lookups, log views).
RESERVE = {CRITICAL: 0.5, GLOBAL: 0.25}


def group_of(path: str) -> str | None:
    """Which relay limiter a path falls under (None: not limited per IP)."""
    if path.startswith(CRITICAL_PATHS):
        return CRITICAL
    if path.startswith(("/api/", "/v1/dashboard/", "/dashboard/")):
        return GLOBAL
    return None


class Window:
    """A sliding-window counter with an optional hold after a 429."""

    def __init__(self, limit: int, seconds: float, slack: float = 0.0):
        self.limit = limit
        self.seconds = seconds
        self.slack = slack
        self.calls: deque[float] = deque()
        self.blocked_until = 0.0
        self.strikes = 0  # 429s in a row, each soon after the previous hold ended

    def _trim(self, now: float) -> None:
        while self.calls and self.calls[0] <= now - self.seconds - self.slack:
            self.calls.popleft()

    def cap(self, share: float = 0.0) -> int:
        """The calls a caller may fill the window up to, leaving `share` of it to others."""
        if not self.limit or not share:
            return self.limit
        return max(1, self.limit - math.ceil(self.limit * share))

    def wait_time(self, now: float, count: int = 1, share: float = 0.0) -> float:
        """Seconds until `count` more calls fit (0 = now) below cap(share)."""
        self._trim(now)
        wait = max(0.0, self.blocked_until - now)
        limit = self.cap(share)
        if limit and len(self.calls) + count > limit:
            if count > limit:
                return float("inf")
            oldest = self.calls[len(self.calls) + count - limit - 1]
            wait = max(wait, oldest + self.seconds + self.slack - now)
        return wait

    def room(self, now: float, share: float = 0.0) -> int | None:
        """Calls that fit now below cap(share) (None: no limit)."""
        self._trim(now)
        if self.blocked_until > now:
            return 0
        return max(0, self.cap(share) - len(self.calls)) if self.limit else None


class SharedWindows(Protocol):
    """Sliding windows every process shares: all-or-nothing, atomic across processes."""

    def take(self, wanted: list[tuple[str, int, int, float]]) -> float:
        """For each (name, calls, cap, seconds): record `calls` more in that window if it then
        holds at most `cap` in the last `seconds`. All or none; 0, else the seconds to wait."""
        ...

    def hold(self, name: str, limit: int, seconds: float, hold: float) -> None:
        """The relay said 429: no process may call in this window for `hold` seconds."""
        ...

    def clear(self) -> None:
        """Forget every window (tests and benches)."""
        ...


class Budgets:
    """All windows, keyed by (base URL, limiter group)."""

    def __init__(self, limits: dict[str, tuple[int, float]] | None = None):
        self.limits = dict(limits or DEFAULT_LIMITS)
        self._windows: dict[tuple[str, str], Window] = {}
        self._custom: dict[str, tuple[int, float]] = {}  # base URL -> its global budget
        self._lock = threading.Lock()
        self.shared: SharedWindows | None = None  # set by the app (blueprints/shared/budgets.py)

    def _window(self, base_url: str, group: str) -> Window:
        key = (base_url, group)
        if key not in self._windows:
            if group == GLOBAL and base_url in self._custom:
                self._windows[key] = Window(*self._custom[base_url], slack=SLACK)
            else:
                self._windows[key] = Window(*self.limits[group])
        return self._windows[key]

    def _groups(self, base_url: str, path: str) -> list[str]:
        group = group_of(path)
        if group is None:
            return []
        if group == CRITICAL and base_url in self._custom:
            return [CRITICAL, GLOBAL]
        return [group]

    def configure(self, base_url: str, limit: int, seconds: float) -> None:
        """Set a relay's own global budget: `limit` calls per `seconds` (0 = no limit)."""
        limit, seconds = max(0, int(limit)), max(1.0, float(seconds))
        with self._lock:
            self._custom[base_url] = (limit, seconds)
            window = self._windows.get((base_url, GLOBAL))
            if window is not None:
                window.limit, window.seconds, window.slack = limit, seconds, SLACK

    def spend(self, base_url: str, path: str, *, background: bool = False) -> float:
        """Record one call if it fits and return 0; else return the seconds to wait."""
        return self.reserve(base_url, (path,), background=background)

    def reserve(
        self, base_url: str, paths: tuple[str, ...] | list[str], *, background: bool = False
    ) -> float:
        """Record calls to all `paths` if every one fits now (return 0), else none (the wait).

        `background`: the caller is no person waiting, so it stops short of the reserved share.
        """
        now = time.monotonic()
        with self._lock:
            needed: dict[str, int] = {}
            for path in paths:
                for group in self._groups(base_url, path):
                    needed[group] = needed.get(group, 0) + 1
            windows = {group: self._window(base_url, group) for group in needed}
            wait = max(
                (w.wait_time(now, needed[g], _share(g, background)) for g, w in windows.items()),
                default=0.0,
            )
            shared = [
                (f"{g} {base_url}", needed[g], w.cap(_share(g, background)), w.seconds + w.slack)
                for g, w in windows.items()
                if 0 < w.limit <= SHARED_MAX
            ]
        if wait == 0.0 and shared and self.shared is not None:
            # Outside the lock: the shared store is a round trip, and it alone decides.
            wait = self.shared.take(shared)
        if wait == 0.0:
            with self._lock:
                for group, window in windows.items():
                    window.calls.extend([now] * needed[group])
        return wait

    def wait_time(self, base_url: str, path: str, *, background: bool = False) -> float:
        """Seconds until a call to path would fit, without spending."""
        now = time.monotonic()
        with self._lock:
            groups = self._groups(base_url, path)
            return max(
                (
                    self._window(base_url, g).wait_time(now, 1, _share(g, background))
                    for g in groups
                ),
                default=0.0,
            )

    def limit_of(self, base_url: str, path: str) -> tuple[int, float] | None:
        """(calls, seconds) of the tightest window a path falls under; None: not limited."""
        with self._lock:
            windows = [self._window(base_url, g) for g in self._groups(base_url, path)]
        limited = [(w.limit, w.seconds) for w in windows if w.limit]
        return min(limited, key=lambda pair: pair[0] / pair[1]) if limited else None

    def room(self, base_url: str, path: str, *, background: bool = False) -> int | None:
        """How many calls to path fit now (None: no limit)."""
        now = time.monotonic()
        with self._lock:
            rooms = [
                self._window(base_url, g).room(now, _share(g, background))
                for g in self._groups(base_url, path)
            ]
        limited = [r for r in rooms if r is not None]
        return min(limited) if limited else None

    def held(self, base_url: str, path: str) -> float:
        """Seconds left on a hold after a 429 (calls already paid for still respect it)."""
        now = time.monotonic()
        with self._lock:
            holds = [self._window(base_url, g).blocked_until for g in self._groups(base_url, path)]
        return max([0.0, *(h - now for h in holds)])

    def hit_limit(self, base_url: str, path: str, retry_after: float | None) -> float:
        """The relay said 429: hold this group off and return how long."""
        group = group_of(path)
        if group is None:
            # e.g. a model rate limit on /v1/models: nothing to hold, the billing pair is fine.
            return retry_after if retry_after is not None else COOLDOWN[GLOBAL]
        now = time.monotonic()
        with self._lock:
            window = self._window(base_url, group)
            if retry_after is not None:
                hold = retry_after
            elif window.blocked_until > now:
                hold = 0.0  # calls already in flight when the hold began: no new strike
            else:
                # Backoff for the whole relay: a 429 soon after a hold ended doubles the next one.
                since = now - window.blocked_until if window.blocked_until else COOLDOWN[group]
                window.strikes = min(window.strikes + 1, 8) if since < COOLDOWN[group] else 0
                hold = COOLDOWN[group] * min(2**window.strikes, MAX_ESCALATION)
            window.blocked_until = max(window.blocked_until, now + hold)
            wait = round(window.wait_time(now), 6)  # float dust must not exceed the hold
            shared = 0 < window.limit <= SHARED_MAX and self.shared is not None
            limit, seconds = window.limit, window.seconds + window.slack
        if shared and hold > 0:
            # Every other process holds off too, not only after a 429 of its own.
            self.shared.hold(f"{group} {base_url}", limit, seconds, hold)
        return wait

    def clear(self) -> None:
        """Forget every window and configured budget (tests and benches), shared ones too."""
        with self._lock:
            self._windows.clear()
            self._custom.clear()
        if self.shared is not None:
            self.shared.clear()


def _share(group: str, background: bool) -> float:
    return RESERVE[group] if background else 0.0


BUDGETS = Budgets()
