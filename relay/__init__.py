"""The one place that talks HTTP to upstream relays (one-api / new-api). No Flask here."""

from .balance import Balance, lookup
from .budget import BUDGETS
from .info import STATUS_CACHE, RelayInfo, relay_info
from .logs import LogResult, LogRow, fetch_logs
from .poll import POLL_PATHS, poll_balance, poll_info
from .urls import BadBaseURL, normalise_base_url

__all__ = [
    "BUDGETS",
    "STATUS_CACHE",
    "BadBaseURL",
    "Balance",
    "LogResult",
    "LogRow",
    "POLL_PATHS",
    "RelayInfo",
    "fetch_logs",
    "lookup",
    "normalise_base_url",
    "poll_balance",
    "poll_info",
    "relay_info",
]
