"""one-api and new-api (2025 and 2026): /api/status, the billing pair, /api/usage/token, logs."""

from __future__ import annotations

from .. import http
from ..balance import lookup as chain_lookup
from ..calls import STATUS
from ..info import NEW_API_2025, NEW_API_2026, ONE_API, parse_status
from ..poll import POLL_PATHS
from .base import BALANCE, LOG, REACHABILITY, VALIDITY, Family


def generation(answer: http.Answer) -> str | None:
    """one-api / new-api generation from a /api/status answer, or None."""
    if not answer.ok:
        return None
    return parse_status(answer.data).generation


ONE_API_FAMILY = Family(
    name="one-api",
    label="one-api",
    can=frozenset({BALANCE, VALIDITY, REACHABILITY}),  # no per-key log without a user login
    lookup=chain_lookup,
    order=10,
    detect_path=STATUS,
    recognise=lambda answer: generation(answer) == ONE_API,
    reach_path=STATUS,
    poll_paths=POLL_PATHS,  # polled by relay.poll_balance under the poller's reservations
)

NEW_API_FAMILY = Family(
    name="new-api",
    label="new-api",
    can=frozenset({BALANCE, VALIDITY, LOG, REACHABILITY}),
    lookup=chain_lookup,
    order=10,
    detect_path=STATUS,
    recognise=lambda answer: generation(answer) in (NEW_API_2025, NEW_API_2026),
    reach_path=STATUS,
    poll_paths=POLL_PATHS,  # polled by relay.poll_balance under the poller's reservations
)

FAMILIES = (ONE_API_FAMILY, NEW_API_FAMILY)
