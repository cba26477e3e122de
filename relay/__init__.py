"""The one place that talks HTTP to upstream relays (one-api / new-api). No Flask here."""

from .balance import Balance, lookup
from .budget import BUDGETS
from .info import STATUS_CACHE, RelayInfo, relay_info
from .logs import LogResult, LogRow, fetch_logs
from .urls import BadBaseURL, normalise_base_url

__all__ = [
    "BUDGETS",
    "STATUS_CACHE",
    "BadBaseURL",
    "Balance",
    "LogResult",
    "LogRow",
    "RelayInfo",
    "fetch_logs",
    "lookup",
    "normalise_base_url",
    "relay_info",
]
