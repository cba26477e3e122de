"""The status probes' reachability tier, asked the way the relay's family allows.

one-api / new-api: GET /api/status (relay.probe.probe_status: budgeted, refreshes STATUS_CACHE).
A family with another keyless reach_path (LiteLLM's /health/liveliness): any HTTP answer there.
Any other family: GET /v1/models with the probe key when there is one, else any HTTP answer from
the base URL. No family (nothing answered detection): any HTTP answer from the base URL, so an
outage is still recorded. "Any HTTP answer" is up, whatever its code (401, 404 included); no
reply, a broken one, a timeout, a TLS failure or a 5xx is down; a 429 is degraded. A 404 from a
path the family turns out not to have is the server answering: never a failure.
"""

from __future__ import annotations

from dataclasses import replace

from . import http
from .calls import STATUS, call
from .families import Family
from .probe import ProbeResult, from_answer, probe_models, probe_status

TIER = "status"  # kept for every family: stored history stays comparable


def uses_key(family: Family | None) -> bool:
    """True when reachability of this family is /v1/models with the probe key."""
    return family is not None and not family.reach_path


def probe_reach(
    base_url: str,
    family: Family | None,
    key: str | None = None,
    *,
    timeout: tuple[float, float],
    slow_ms: float,
) -> ProbeResult:
    """Is the relay up? One reading of tier "status", from what its family has."""
    if family is not None and family.reach_path == STATUS:
        return _answered(probe_status(base_url, timeout=timeout, slow_ms=slow_ms), slow_ms)
    if family is not None and family.reach_path:
        return probe_answer(base_url, family.reach_path, timeout=timeout, slow_ms=slow_ms)
    if uses_key(family) and key:
        result = probe_models(base_url, key, timeout=timeout, slow_ms=slow_ms)
        return _answered(replace(result, tier=TIER), slow_ms)
    return probe_answer(base_url, "", timeout=timeout, slow_ms=slow_ms)


def probe_answer(
    base_url: str, path: str = "", *, timeout: tuple[float, float], slow_ms: float
) -> ProbeResult:
    """GET base_url+path without a key: any whole HTTP answer below 500 (but 429) is up."""
    answer = call(base_url, path, None, timeout=timeout, background=True)
    status = answer.status
    if status is not None and status < 500 and status != 429 and answer.kind != http.RESET:
        return _up(status, answer.elapsed_ms, slow_ms)
    return from_answer(TIER, answer, base_url, timeout, slow_ms)


def _answered(result: ProbeResult, slow_ms: float) -> ProbeResult:
    """A 404 means the server is there and the path is not: up, not an error."""
    if result.status != 404:
        return result
    return _up(404, result.latency_ms or 0.0, slow_ms)


def _up(status: int, latency_ms: float, slow_ms: float) -> ProbeResult:
    return ProbeResult(TIER, "", True, latency_ms > slow_ms, status, None, latency_ms)
