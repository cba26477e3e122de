"""What kind of relay sits at a base URL, read from its public /api/status and cached."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from . import http
from .calls import STATUS, call

ONE_API = "one-api"
NEW_API_2025 = "new-api-2025"
NEW_API_2026 = "new-api-2026"

DEFAULT_QUOTA_PER_UNIT = 500000.0


@dataclass(frozen=True)
class RelayInfo:
    """The relay's flavour and unit settings, as /api/status published them."""

    generation: str | None = None
    version: str | None = None
    system_name: str | None = None
    quota_per_unit: float = DEFAULT_QUOTA_PER_UNIT
    display: str = "USD"  # what the relay converts amounts to: USD, CNY or TOKENS
    usd_exchange_rate: float | None = None
    answered: bool = False
    fetched_at: float = 0.0
    fault: str | None = None  # how /api/status failed (an http answer kind), when it did

    @property
    def relay(self) -> str:
        """The family name: one-api, new-api or unknown."""
        if self.generation == ONE_API:
            return "one-api"
        if self.generation in (NEW_API_2025, NEW_API_2026):
            return "new-api"
        return "unknown"

    @property
    def unit(self) -> str:
        """The unit our numbers are in: USD, CNY or raw quota."""
        return {"TOKENS": "quota", "CNY": "CNY"}.get(self.display, "USD")

    def from_quota(self, quota: float) -> float:
        """Convert raw quota into this relay's display unit (never a hard-coded 500000)."""
        if self.unit == "quota":
            return float(quota)
        usd = quota / self.quota_per_unit
        return usd * (self.usd_exchange_rate or 1.0) if self.unit == "CNY" else usd

    def to_usd(self, amount: float | None) -> float | None:
        """Convert an amount in our unit back to USD of quota (for purchase-rate money)."""
        if amount is None:
            return None
        if self.unit == "quota":
            return amount / self.quota_per_unit
        if self.unit == "CNY":
            return amount / (self.usd_exchange_rate or 1.0)
        return amount


def parse_status(data: object) -> RelayInfo:
    """Fingerprint one-api / new-api 2025 / new-api 2026 from a /api/status body."""
    body = data.get("data") if isinstance(data, dict) else None
    if not isinstance(body, dict) or not data.get("success", True):
        return RelayInfo()
    if "quota_display_type" in body:
        generation = NEW_API_2026
    elif "setup" in body or "enable_data_export" in body:
        generation = NEW_API_2025
    elif "quota_per_unit" in body or "chat_link" in body:
        generation = ONE_API
    else:
        generation = None
    qpu = _number(body.get("quota_per_unit")) or DEFAULT_QUOTA_PER_UNIT
    if generation == NEW_API_2026:
        display = str(body.get("quota_display_type") or "USD").upper()
        display = display if display in ("USD", "CNY", "TOKENS") else "USD"
    else:
        display = "USD" if body.get("display_in_currency", True) else "TOKENS"
    return RelayInfo(
        generation=generation,
        version=_text(body.get("version")),
        system_name=_text(body.get("system_name")),
        quota_per_unit=qpu,
        display=display,
        usd_exchange_rate=_number(body.get("usd_exchange_rate")),
        answered=True,
        fetched_at=time.time(),
    )


class StatusCache:
    """Per-base-URL cache of RelayInfo: /api/status spends the same per-IP budget as lookups."""

    def __init__(self, ttl: float = 600.0, failure_ttl: float = 30.0):
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self._items: dict[str, tuple[float, RelayInfo]] = {}
        self._lock = threading.Lock()

    def peek(self, base_url: str) -> RelayInfo | None:
        """The cached info when still fresh, else None."""
        with self._lock:
            item = self._items.get(base_url)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def store(self, base_url: str, info: RelayInfo) -> None:
        """Remember info; a failed read is kept briefly so a dead relay is not hammered."""
        ttl = self.ttl if info.answered else self.failure_ttl
        with self._lock:
            self._items[base_url] = (time.monotonic() + ttl, info)

    def clear(self) -> None:
        """Forget everything (tests, and the admin's 'test connection')."""
        with self._lock:
            self._items.clear()


STATUS_CACHE = StatusCache()


def fetch_status(
    base_url: str, timeout=http.DEFAULT_TIMEOUT, *, background: bool = False
) -> tuple[RelayInfo, http.Answer]:
    """Read /api/status now and cache the result (a rate-limit refusal is not cached)."""
    answer = call(base_url, STATUS, None, timeout=timeout, background=background)
    if answer.ok:
        info = parse_status(answer.data)
    else:
        info = RelayInfo(fetched_at=time.time(), fault=answer.kind)
    if answer.kind != http.RATE_LIMITED:
        # A refusal (ours or the relay's 429) says nothing about the relay itself.
        STATUS_CACHE.store(base_url, info)
    return info, answer


def relay_info(base_url: str, timeout=http.DEFAULT_TIMEOUT) -> RelayInfo:
    """Cached RelayInfo, fetching /api/status on a miss."""
    return STATUS_CACHE.peek(base_url) or fetch_status(base_url, timeout)[0]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number > 0 else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
