"""How this server calls a provider's relay: its base URL, our timeouts, its request budget."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .models import Provider
from .service import apply_budget

# (connect, read) config keys per kind of call: a probe waits for a chat answer and a playground
# stream for the slowest model, far longer than a balance read may take.
TIMEOUTS = {
    "relay": ("RELAY_CONNECT_TIMEOUT", "RELAY_READ_TIMEOUT"),
    "probe": ("STATUS_CONNECT_TIMEOUT", "STATUS_READ_TIMEOUT"),
    "stream": ("RELAY_CONNECT_TIMEOUT", "PLAYGROUND_READ_TIMEOUT"),
}


@dataclass(frozen=True)
class Connection:
    """Where to call a provider's relay and how long to wait for it."""

    base_url: str
    timeout: tuple[float, float]


def timeouts(kind: str = "relay") -> tuple[float, float]:
    """(connect, read) seconds from config for relay calls, status probes or playground streams."""
    connect_key, read_key = TIMEOUTS[kind]
    config = current_app.config
    return float(config[connect_key]), float(config[read_key])


def connect(provider: Provider, kind: str = "relay") -> Connection:
    """The provider's base URL and our timeouts, its request budget applied in this process."""
    apply_budget(provider)
    return Connection(provider.base_url, timeouts(kind))
