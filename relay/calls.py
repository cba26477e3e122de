"""Budgeted, parallel calls to one relay's endpoints."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from . import http
from .budget import BUDGETS

# One pool for all outbound calls; lookups fan out here so a lookup costs one round trip.
POOL = ThreadPoolExecutor(max_workers=64, thread_name_prefix="relay")

USAGE_TOKEN = "/api/usage/token/"
SUBSCRIPTION = "/v1/dashboard/billing/subscription"
BILLING_USAGE = "/v1/dashboard/billing/usage"
MODELS = "/v1/models"
LOG_TOKEN = "/api/log/token"
STATUS = "/api/status"


def call(
    base_url: str,
    path: str,
    key: str | None,
    *,
    timeout=http.DEFAULT_TIMEOUT,
    params: dict[str, str] | None = None,
    prepaid: bool = False,
    background: bool = False,
) -> http.Answer:
    """One GET that respects the relay's per-IP budget (`prepaid`: reserved) and records a 429.

    `background`: no person waits for it, so it leaves the budget's reserved share alone.
    """
    if prepaid:
        wait = BUDGETS.held(base_url, path)
    else:
        wait = BUDGETS.spend(base_url, path, background=background)
    if wait > 0:
        return http.Answer(path, http.RATE_LIMITED, retry_after=wait, message="budget")
    answer = http.get(base_url, path, key=key, params=params, timeout=timeout)
    if answer.kind == http.RATE_LIMITED:
        wait = BUDGETS.hit_limit(base_url, path, answer.retry_after)
        return http.Answer(
            path, http.RATE_LIMITED, 429, retry_after=wait, elapsed_ms=answer.elapsed_ms
        )
    return answer


def fan_out(jobs: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Run the named jobs in parallel and return their results by name."""
    futures: dict[str, Future] = {name: POOL.submit(job) for name, job in jobs.items()}
    return {name: future.result() for name, future in futures.items()}
