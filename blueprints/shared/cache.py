"""A small in-memory TTL cache, and the HMAC that names an entry for a relay key (never the key)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from typing import Any

from flask import current_app


def fingerprint(scope: str, key: str) -> str:
    """HMAC-SHA256 of the key under the app secret: usable as a cache key, useless as a key."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"{scope}\0{key}".encode(), hashlib.sha256).hexdigest()


class TTLCache:
    """Thread-safe dict with per-entry expiry and a size cap."""

    def __init__(self, max_items: int = 2048):
        self.max_items = max_items
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Any:
        """The live value or None."""
        with self._lock:
            item = self._items.get(name)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._items[name]
                return None
            return item[1]

    def set(self, name: str, value: Any, ttl: float) -> None:
        """Store for ttl seconds (0 or less: do not store)."""
        if ttl <= 0:
            return
        with self._lock:
            if len(self._items) >= self.max_items:
                self._evict()
            self._items[name] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()

    def _evict(self) -> None:
        now = time.monotonic()
        for name in [n for n, (expiry, _) in self._items.items() if expiry < now]:
            del self._items[name]
        while len(self._items) >= self.max_items:
            self._items.pop(next(iter(self._items)))
