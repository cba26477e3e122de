"""Which family sits at a base URL: host names first, then keyless GETs asked in parallel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from .. import http
from ..calls import STATUS, call, fan_out
from ..info import STATUS_CACHE, fetch_status
from .base import Family

FOUND_TTL = 3600.0  # a relay does not change family often; admins can re-test at once
SILENT_TTL = 60.0  # nothing answered: ask again soon


class FamilyCache:
    """base URL → (expiry, family name or None), in memory: it is only a shortcut."""

    def __init__(self):
        self._items: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def peek(self, base_url: str) -> tuple[bool, str | None]:
        """(known, name): known is False when nothing fresh is cached."""
        with self._lock:
            item = self._items.get(base_url)
        if item is None or item[0] < time.monotonic():
            return False, None
        return True, item[1]

    def store(self, base_url: str, name: str | None) -> None:
        """Remember a detection (briefly when nothing answered)."""
        ttl = FOUND_TTL if name else SILENT_TTL
        with self._lock:
            self._items[base_url] = (time.monotonic() + ttl, name)

    def clear(self) -> None:
        """Forget everything (tests)."""
        self.forget()

    def forget(self, base_url: str | None = None) -> None:
        """Drop one base URL (an admin re-test) or everything (tests)."""
        with self._lock:
            if base_url is None:
                self._items.clear()
            else:
                self._items.pop(base_url, None)


CACHE = FamilyCache()


def by_address(base_url: str, families: Iterable[Family]) -> Family | None:
    """A family the host name alone names (api.deepseek.com, openrouter.ai)."""
    host = (urlsplit(base_url).hostname or "").lower()
    for family in families:
        if any(host == h or host.endswith("." + h) for h in family.hosts):
            return family
    return None


def detect(
    base_url: str, families: Iterable[Family], *, timeout=None, background: bool = False
) -> str | None:
    """The family name (cached); "openai" when something answered but no family's way."""
    known, name = CACHE.peek(base_url)
    if known:
        return name
    families = list(families)
    named = by_address(base_url, families)
    if named is not None:
        CACHE.store(base_url, named.name)
        return named.name
    name = _ask(base_url, families, timeout or http.DEFAULT_TIMEOUT, background)
    if name is not _HELD:
        CACHE.store(base_url, name)
        return name
    return None


_HELD = object()  # our own budget held /api/status back: decide nothing yet


def _ask(base_url: str, families: list[Family], timeout, background: bool) -> str | None | object:
    cached = STATUS_CACHE.peek(base_url)
    if cached is not None and cached.answered and cached.relay != "unknown":
        return cached.relay  # /api/status already said one-api or new-api
    return keyless(base_url, families, timeout, background=background)


# /api/status answers that say nothing about what the relay is: ours or its rate limit, or a
# passing fault. A one-api relay that is briefly down must not be called "openai" for an hour.
UNSURE = {http.RATE_LIMITED, http.TIMEOUT, http.RESET, http.SERVER_ERROR, http.SKIPPED}


def keyless(
    base_url: str, families: list[Family], timeout, *, background: bool = False
) -> str | None | object:
    """Ask each family's detect_path without a key, in parallel; the first family recognised.

    `background`: no person waits (the prober, the poller), so budgets keep people's share.
    """
    jobs = {}
    for path in sorted({f.detect_path for f in families if f.detect_path}):
        if path == STATUS:
            jobs[path] = lambda: fetch_status(base_url, timeout, background=background)[1]
        else:
            jobs[path] = lambda p=path: call(
                base_url, p, None, timeout=timeout, background=background
            )
    answers: dict[str, http.Answer] = fan_out(jobs)
    for family in families:
        answer = answers.get(family.detect_path or "")
        if answer is not None and family.recognise is not None and family.recognise(answer):
            return family.name
    status = answers.get(STATUS)
    answered = any(a.status is not None for a in answers.values())
    if (
        status is not None
        and status.kind in UNSURE
        and (answered or status.kind == http.RATE_LIMITED)
    ):
        return _HELD  # it may well be one-api/new-api: do not settle on "openai" for an hour
    if answered:
        return "openai"  # something speaks HTTP there, in no family's way
    return None
