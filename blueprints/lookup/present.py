"""Turning a Balance into what scripts see (the JSON object), plus the shared money format."""

from __future__ import annotations

from datetime import UTC, datetime

import relay
from blueprints.providers.models import Provider
from blueprints.shared.texts import STATUS_LABELS

from .messages import REASON_LABELS, explain

_SYMBOLS = {"USD": "$", "CNY": "¥"}


def iso(timestamp: float | None) -> str | None:
    """Unix seconds → ISO-8601 UTC with a Z, or None."""
    if not timestamp:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def family_of(balance: relay.Balance) -> relay.Family | None:
    """The relay family that answered, or None when unknown."""
    return relay.FAMILIES.get(balance.family or "")


def published(balance: relay.Balance) -> bool:
    """False when this relay has no balance call for keys (amounts can never be known)."""
    family = family_of(balance)
    return balance.balance_published and (family is None or family.publishes_balance)


def status_label(balance: relay.Balance) -> str:
    """The badge text: a reason's own label where the status would claim too much."""
    return str(REASON_LABELS.get(balance.reason or "") or STATUS_LABELS.get(balance.status, ""))


def to_json(provider: Provider, balance: relay.Balance, masked: str | None = None) -> dict:
    """The documented /api/v1/lookup object (see openapi.py)."""
    data = {
        "provider": provider.name,
        # What /api/status said (one-api, new-api or unknown), as before; `family` names the rest.
        "relay": balance.info.relay,
        "relay_version": balance.info.version,
        "family": balance.family,
        "status": balance.status,
        "unit": balance.unit or (balance.info.unit if balance.info.answered else None),
        "balance_published": published(balance),
        "unlimited": balance.unlimited,
        "total": balance.total,
        "used": balance.used,
        "remaining": balance.remaining,
        "balances": [dict(item) for item in balance.balances],
        "budget": _budget(balance.budget),
        "account": dict(balance.account) if balance.account else None,
        "expires_at": iso(balance.expires_at),
        "expiry_stated": balance.expiry_stated,
        "token_name": balance.token_name,
        "scope": balance.scope,
        "models": balance.models,
        "answered_by": list(balance.answered_by),
        "checked_at": iso(balance.checked_at),
        "figures_error": balance.figures_error if balance.status == "active" else None,
    }
    if masked is not None:
        data = {"key": masked, **data}
    if balance.retry_in:
        data["retry_in"] = max(1, round(balance.retry_in))
    if balance.status != "active":
        explanation, hint = explain(balance, provider.base_url)
        data["error"] = {
            "code": balance.reason or balance.status,
            "message": f"{explanation} {hint}",
        }
    return data


def _budget(budget: dict | None) -> dict | None:
    if not budget:
        return None
    return {"duration": budget.get("duration"), "reset_at": iso(budget.get("reset_at"))}


def amount(value: float | None, unit: str | None) -> str:
    """$12.34, ¥0.0123 or 1,234,567 quota; '—' when unknown."""
    if value is None:
        return "—"
    if unit == "quota":
        return f"{value:,.0f}"
    size = abs(value)
    digits = 2 if size >= 1 or size == 0 else 4 if size >= 0.01 else 6
    symbol = _SYMBOLS.get(unit or "", "")
    # A negative cash balance (Moonshot arrears) reads -¥3.00, not ¥-3.00.
    return f"{'-' if value < 0 else ''}{symbol}{size:,.{digits}f}"


def lookup_helpers() -> dict:
    """Template helpers: status labels for rows rendered outside the card."""
    return {"status_label": lambda status: STATUS_LABELS.get(status, status)}
