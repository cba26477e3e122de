"""Provider admin: form parsing, the table's rows and the "test connection" probe."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from blueprints.providers.models import Provider
from blueprints.providers.prices import parse_prices, prices_text, set_prices
from blueprints.providers.service import (
    ProviderError,
    add_provider,
    budget_text,
    edit_provider,
    key_counts,
    list_providers,
    parse_budget,
)
from relay import http
from relay.info import NEW_API_2025, NEW_API_2026, ONE_API, fetch_status

ERRORS = {
    "bad_name": _l("The name must be 1-80 characters."),
    "duplicate_name": _l("A provider with that name exists already."),
    "bad_url": _l("The base URL must be an http(s) URL with a host, e.g. https://api.juheai.top"),
    "bad_rate": _l("The CNY rate must be a positive number (CNY paid per 1 USD of quota)."),
    "bad_budget": _l(
        "The request budget must be CALLS/SECONDS with positive whole numbers "
        "(e.g. 150/180), or 0 for no limit."
    ),
    "bad_prices": _l(
        "Price line %(line)s must read: model input output (prices per 1M tokens in the "
        "provider's money unit, e.g. gpt-4o 2.5 10)."
    ),
    "in_use": _l(
        "Tracked keys use this provider. Confirm that they and their history are deleted too."
    ),
}

GENERATIONS = {
    ONE_API: _l("one-api"),
    NEW_API_2025: _l("new-api (2025)"),
    NEW_API_2026: _l("new-api (2026)"),
    None: _l("unknown"),
}

PROBE_ERRORS = {
    http.TIMEOUT: _l("The relay did not answer in time."),
    http.UNREACHABLE: _l("Cannot connect to this address (wrong host or port, or it is down)."),
    http.RESET: _l("The connection was cut before the relay answered."),
    http.HTML: _l("This address answered with a web page, not the relay API."),
    http.NOT_FOUND: _l("No /api/status here: this is not a one-api or new-api relay."),
    http.MALFORMED: _l("The relay answered with something that is not JSON."),
    http.RATE_LIMITED: _l("The relay is rate-limiting us. Try again in a few minutes."),
    http.SERVER_ERROR: _l("The relay reported a server error."),
    http.DENIED: _l("The relay refused to show its status."),
    http.REJECTED: _l("The relay refused the request."),
    "not_relay": _l("This address answers JSON, but not like a one-api or new-api relay."),
    "budget": _l("This provider's request budget is used up for now. Try again in a minute."),
}


def error_text(error: ProviderError) -> str:
    """The message for a refused provider change."""
    if error.code == "bad_prices":
        return ERRORS["bad_prices"] % {"line": error.detail}
    return str(ERRORS.get(error.code, ERRORS["bad_name"]))


def form_changes(form) -> dict:
    """Provider fields from a submitted add/edit form (ProviderError for bad values)."""
    budget = (form.get("budget") or "").strip()
    return {
        "name": form.get("name") or "",
        "base_url": form.get("base_url") or "",
        "hidden": form.get("hidden") in ("1", "on", "true"),
        "cny_rate": _rate(form.get("cny_rate")),
        "budget": parse_budget(budget) if budget else None,
    }


def save(provider: Provider | None, form) -> Provider:
    """Add (provider None) or edit a provider from a submitted form; a blank budget keeps it."""
    changes = form_changes(form)
    prices = parse_prices(form.get("prices"))  # checked before anything is saved
    if changes["budget"] is None:
        del changes["budget"]
    saved = add_provider(**changes) if provider is None else edit_provider(provider, **changes)
    set_prices(saved, prices)
    return saved


def _rate(text: str | None) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise ProviderError("bad_rate") from exc


@dataclass(frozen=True)
class Row:
    """One provider as the table shows it."""

    provider: Provider
    keys: int
    budget: str


def rows() -> list[Row]:
    """Every provider with its tracked-key count and budget text."""
    counts = key_counts()
    return [Row(p, counts.get(p.id, 0), budget_text(p)) for p in list_providers()]


def form_values(provider: Provider | None = None, *, form=None) -> dict:
    """What an add (empty), edit (current values) or refused (as sent) form shows."""
    if form is not None:
        fields = ("name", "base_url", "cny_rate", "budget", "prices")
        values = {field: (form.get(field) or "").strip() for field in fields}
        return {**values, "hidden": form.get("hidden") in ("1", "on", "true")}
    if provider is None:
        return {
            "name": "",
            "base_url": "",
            "cny_rate": "",
            "budget": "150/180",
            "prices": "",
            "hidden": False,
        }
    return {
        "name": provider.name,
        "base_url": provider.base_url,
        "cny_rate": f"{provider.cny_rate:g}" if provider.cny_rate else "",
        "budget": budget_text(provider).removesuffix("s").replace("unlimited", "0"),
        "hidden": provider.hidden,
        "prices": prices_text(provider.id),
    }


@dataclass(frozen=True)
class Probe:
    """What "test connection" found at a provider's base URL."""

    provider: Provider
    ok: bool
    ms: int
    generation: str | None = None
    label: str = ""
    version: str | None = None
    system_name: str | None = None
    display: str = ""
    quota_per_unit: float = 0.0
    error: str = ""
    http_status: int | None = None


def probe(provider: Provider) -> Probe:
    """Read /api/status now (never the cache) and describe the relay, or why it failed."""
    config = current_app.config
    timeout = (float(config["RELAY_CONNECT_TIMEOUT"]), float(config["RELAY_READ_TIMEOUT"]))
    info, answer = fetch_status(provider.base_url, timeout=timeout)
    ms = round(answer.elapsed_ms)
    if not answer.ok or not info.answered:
        kind = answer.kind if not answer.ok else "not_relay"
        if answer.kind == http.RATE_LIMITED and answer.status is None:
            kind = "budget"  # our own budget said no; the relay was not asked
        error = str(PROBE_ERRORS.get(kind, PROBE_ERRORS[http.REJECTED]))
        return Probe(provider, False, ms, error=error, http_status=answer.status)
    return Probe(
        provider,
        True,
        ms,
        generation=info.generation,
        label=str(GENERATIONS.get(info.generation, GENERATIONS[None])),
        version=info.version,
        system_name=info.system_name,
        display=info.display,
        quota_per_unit=info.quota_per_unit,
    )
