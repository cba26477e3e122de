"""Turning a Balance into what people and scripts see: the JSON object and the result card."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask_babel import format_datetime, format_timedelta
from flask_babel import gettext as _

import relay
from blueprints.providers.models import Provider

from .clients import client_setup
from .messages import SCOPE_LABELS, STATUS_LABELS, UNIT_LABELS, explain

_SYMBOLS = {"USD": "$", "CNY": "¥"}


def iso(timestamp: float | None) -> str | None:
    """Unix seconds → ISO-8601 UTC with a Z, or None."""
    if not timestamp:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def to_json(provider: Provider, balance: relay.Balance, masked: str | None = None) -> dict:
    """The documented /api/v1/lookup object."""
    data = {
        "provider": provider.name,
        "relay": balance.info.relay,
        "relay_version": balance.info.version,
        "status": balance.status,
        "unit": balance.unit or (balance.info.unit if balance.info.answered else None),
        "unlimited": balance.unlimited,
        "total": balance.total,
        "used": balance.used,
        "remaining": balance.remaining,
        "expires_at": iso(balance.expires_at),
        "token_name": balance.token_name,
        "scope": balance.scope,
        "models": balance.models,
        "answered_by": list(balance.answered_by),
        "checked_at": iso(balance.checked_at),
    }
    if masked is not None:
        data = {"key": masked, **data}
    if balance.status != "active":
        explanation, hint = explain(balance.reason, balance.http_status, balance.retry_in)
        data["error"] = {
            "code": balance.reason or balance.status,
            "message": f"{explanation} {hint}",
        }
        if balance.retry_in:
            data["retry_in"] = round(balance.retry_in)
    return data


def amount(value: float | None, unit: str | None) -> str:
    """$12.34, ¥0.0123 or 1,234,567 quota; '—' when unknown."""
    if value is None:
        return "—"
    if unit == "quota":
        return f"{value:,.0f}"
    size = abs(value)
    digits = 2 if size >= 1 or size == 0 else 4 if size >= 0.01 else 6
    return f"{_SYMBOLS.get(unit or '', '')}{value:,.{digits}f}"


def lookup_helpers() -> dict:
    """Template helpers: status labels for rows rendered outside the card."""
    return {"status_label": lambda status: STATUS_LABELS.get(status, status)}


def card(provider: Provider, balance: relay.Balance, masked: str) -> dict:
    """Everything the result card template needs, computed once."""
    expires = datetime.fromtimestamp(balance.expires_at, UTC) if balance.expires_at else None
    used_pct = None
    if balance.total and balance.used is not None and not balance.unlimited:
        used_pct = max(0.0, min(100.0, balance.used / balance.total * 100))
    usd = balance.remaining_usd
    explanation, hint = ("", "")
    if balance.status != "active":
        explanation, hint = explain(balance.reason, balance.http_status, balance.retry_in)
    view = {
        "provider": provider,
        "b": balance,
        "masked": masked,
        "status_label": STATUS_LABELS.get(balance.status, balance.status),
        "unit_label": UNIT_LABELS.get(balance.unit or "", ""),
        "scope_label": SCOPE_LABELS.get(balance.scope, SCOPE_LABELS[None]),
        "used_pct": used_pct,
        "cny": usd * provider.cny_rate if usd is not None and provider.cny_rate else None,
        "expires": expires,
        "countdown": _countdown(balance.expires_at),
        "explanation": explanation,
        "hint": hint,
        "has_numbers": balance.used is not None or balance.remaining is not None,
        "raw_remaining": _raw_quota(balance),
        "clients": client_setup(provider.base_url),
    }
    view["summary"] = summary(view)
    return view


def summary(view: dict) -> str:
    """The plain-text block behind 'copy summary' (the key stays masked)."""
    b: relay.Balance = view["b"]
    lines = [
        f"{view['provider'].name} · {view['masked']}"
        + (f" ({b.token_name})" if b.token_name else ""),
        _("Status: %(status)s", status=view["status_label"]),
    ]
    if b.unlimited:
        lines.append(_("Remaining: unlimited (used %(used)s)", used=amount(b.used, b.unit)))
    elif view["has_numbers"]:
        lines.append(
            _(
                "Remaining: %(remaining)s of %(total)s (used %(used)s)",
                remaining=amount(b.remaining, b.unit),
                total=amount(b.total, b.unit),
                used=amount(b.used, b.unit),
            )
        )
    when = format_datetime(view["expires"], "yyyy-MM-dd HH:mm") if view["expires"] else _("never")
    lines.append(_("Expires: %(when)s", when=when))
    checked = datetime.fromtimestamp(b.checked_at, UTC)
    lines.append(_("Checked: %(when)s", when=format_datetime(checked, "yyyy-MM-dd HH:mm")))
    return "\n".join(lines)


def _raw_quota(balance: relay.Balance) -> int | None:
    """The remaining amount in the relay's raw quota units, shown beside money."""
    if balance.remaining is None or balance.unit == "quota":
        return None
    return round(balance.info.to_usd(balance.remaining) * balance.info.quota_per_unit)


def _countdown(expires_at: int | None) -> str:
    if not expires_at:
        return _("never expires")
    delta = expires_at - time.time()
    return format_timedelta(delta, add_direction=True, threshold=1.1)
