"""Any other OpenAI-compatible relay (vLLM, Ollama, LocalAI, gateways): models and chat only."""

from __future__ import annotations

from .. import http
from ..balance import Balance
from .base import REACHABILITY, VALIDITY, Family, from_models, models_call


def lookup(base_url: str, key: str, *, timeout=http.DEFAULT_TIMEOUT) -> Balance:
    """/v1/models with the key: 200 proves it works; 401/403 is a refusal that says no more."""
    return from_models(models_call(base_url, key, timeout))


FAMILY = Family(
    name="openai",
    label="OpenAI-compatible",
    can=frozenset({VALIDITY, REACHABILITY}),
    lookup=lookup,
    order=90,
)
