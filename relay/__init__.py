"""The one place that talks HTTP to upstream relays (every family, see families/). No Flask."""

from .balance import Balance
from .budget import BUDGETS
from .families import AUTO, FAMILIES, KINDS, UNSURE, Family, check, lookup, resolve
from .families import CACHE as FAMILY_CACHE
from .info import STATUS_CACHE, RelayInfo, relay_info
from .logs import LogResult, LogRow, fetch_logs
from .poll import POLL_PATHS, poll_balance, poll_info
from .urls import BadBaseURL, normalise_base_url

__all__ = [
    "AUTO",
    "BUDGETS",
    "FAMILIES",
    "FAMILY_CACHE",
    "Family",
    "KINDS",
    "UNSURE",
    "check",
    "resolve",
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
