"""The result card: what a person sees about one key, every family's figures, and its summary."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import relay
from blueprints.providers.clients import client_setup
from blueprints.providers.models import Provider
from blueprints.shared import times

from . import limits
from .messages import SCOPE_LABELS, UNIT_LABELS, explain, figures_texts
from .present import amount, family_of, published, status_label

# Statuses whose key has a request log worth loading under the card.
_LOGGED = ("active", "exhausted", "expired")
# Families whose amounts are relay quota, so a raw-quota figure can stand beside the money.
_QUOTA_FAMILIES = (None, "one-api", "new-api")
PERIODS = {"daily": _l("every day"), "weekly": _l("every week"), "monthly": _l("every month")}


def card(provider: Provider, balance: relay.Balance, masked: str) -> dict:
    """Everything the result card template needs, computed once."""
    b = balance
    family = family_of(b)
    label = family_label(family)
    has_numbers = b.used is not None or b.remaining is not None
    shows_balance = published(b)
    tone = b.status
    if b.reason == "no_key_db" or (b.status == "active" and not shows_balance):
        tone = "neutral"  # nothing is wrong with the key, nor known to be
    explanation, hint = ("", "")
    if b.status != "active":
        explanation, hint = explain(b, provider.base_url)
    view = {
        "provider": provider,
        "b": b,
        "masked": masked,
        "status_label": status_label(b),
        "tone": tone,
        "badge": "neutral" if b.reason == "no_key_db" else b.status,
        "family_label": label,
        "relay_label": _relay_label(b, label),
        "unit_label": UNIT_LABELS.get(b.unit or "", ""),
        "scope_label": SCOPE_LABELS.get(b.scope, SCOPE_LABELS[None]),
        "explanation": explanation,
        "hint": hint,
        "no_balance": None if shows_balance else _no_balance(label),
        "figures": figures_texts(b, provider.base_url) if b.figures_error else None,
        "has_numbers": has_numbers,
        "show_expiry": b.status == "active" or has_numbers or b.unlimited,
        "expiry": _expiry(b),
        "window": _window(b),
        "account": b.account,
        "balances": _breakdown(b.balances),
        "cny": _cny(provider, b),
        "raw_remaining": _raw_quota(b),
        "log": _log(b, family, label),
        "clients": client_setup(provider.base_url) if b.status == "active" or has_numbers else [],
    }
    view.update(_bar(b))
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
    if view["no_balance"]:
        lines.append(view["no_balance"])
    elif b.unlimited:
        lines.append(_("Remaining: unlimited (used %(used)s)", used=amount(b.used, b.unit)))
    elif b.total is not None:
        lines.append(
            _(
                "Remaining: %(remaining)s of %(total)s (used %(used)s)",
                remaining=amount(b.remaining, b.unit),
                total=amount(b.total, b.unit),
                used=amount(view["spent"], b.unit),
            )
        )
    elif b.remaining is not None:
        lines.append(_("Remaining: %(remaining)s", remaining=amount(b.remaining, b.unit)))
    if b.remaining is not None or b.unlimited:
        lines.append(_("Scope: %(scope)s", scope=view["scope_label"]))
    if view["window"]:
        lines.append(view["window"])
    if view["account"]:
        lines.append(_account_line(view["account"]))
    if view["show_expiry"]:
        lines.append(_("Expires: %(when)s", when=view["expiry"]["plain"]))
    checked = datetime.fromtimestamp(b.checked_at, UTC)
    lines.append(_("Checked: %(when)s", when=times.local(checked)))
    return "\n".join(lines)


def _relay_label(b: relay.Balance, label: str | None) -> str:
    name = label or b.info.relay
    extras = [b.info.version] if b.info.version else []
    text = " ".join([name, *extras])
    return f"{text} · {b.info.system_name}" if b.info.system_name else text


def _no_balance(label: str | None) -> str:
    if label:
        return _("This relay (%(family)s) publishes no balance for keys.", family=label)
    return _("This relay publishes no balance for keys.")


def _expiry(b: relay.Balance) -> dict:
    """{'at', 'text' (card), 'plain' (summary), 'countdown'}; "Never" only when the relay said."""
    if b.expires_at:
        at = datetime.fromtimestamp(b.expires_at, UTC)
        countdown = format_timedelta(b.expires_at - time.time(), add_direction=True, threshold=1.1)
        text = times.local(at)  # with its offset: "2026-12-08 10:00 UTC+8"
        return {"at": at, "text": text, "plain": text, "countdown": countdown}
    if b.expiry_stated:
        return {"at": None, "text": _("Never"), "plain": _("never"), "countdown": None}
    text, plain = str(SCOPE_LABELS[None]), _("not stated by this relay")
    return {"at": None, "text": text, "plain": plain, "countdown": None}


def _window(b: relay.Balance) -> str | None:
    """The spending window the figures cover (LiteLLM budget, OpenRouter limit reset)."""
    if not b.budget:
        return None
    duration = str(b.budget.get("duration") or "")
    if b.family == "openrouter":
        period = PERIODS.get(duration, duration)
        return _(
            "The key's limit resets %(period)s; “used” counts everything since the key was made.",
            period=period,
        )
    reset = b.budget.get("reset_at")
    if reset:
        return _(
            "Spend covers only the current %(duration)s budget window; it resets %(when)s.",
            duration=duration,
            when=limits.at_time(reset),
        )
    return _("Spend covers only the current %(duration)s budget window.", duration=duration)


def _account_line(account: dict) -> str:
    unit = account.get("unit")
    return _(
        "Account credits: %(remaining)s left of %(total)s (used %(used)s)",
        remaining=amount(account.get("remaining"), unit),
        total=amount(account.get("total"), unit),
        used=amount(account.get("used"), unit),
    )


def _breakdown(balances: list[dict]) -> list[dict]:
    """Currency rows worth a table: several currencies, or one split into granted/topped up."""
    if len(balances) > 1:
        return balances
    if balances and any(balances[0].get(part) is not None for part in ("granted", "topped_up")):
        return balances
    return []


def _bar(b: relay.Balance) -> dict:
    """The share used of the total (what was spent = total - remaining when both are known)."""
    spent = b.used
    if b.total is not None and b.remaining is not None:
        spent = round(b.total - b.remaining, 6)
    used_pct = None
    if b.total and spent is not None and not b.unlimited:
        used_pct = max(0.0, min(100.0, spent / b.total * 100))
    return {"spent": spent, "used_pct": used_pct}


def _cny(provider: Provider, b: relay.Balance) -> float | None:
    """What the remaining amount cost in CNY at the purchase rate, when that says something new."""
    usd = b.remaining_usd
    if usd is None or not provider.cny_rate:
        return None
    cny = usd * provider.cny_rate
    # A CNY relay priced at the purchase rate already shows this amount: a second ¥ only confuses.
    if b.unit == "CNY" and b.remaining is not None and abs(b.remaining - cny) < 0.005:
        return None
    return cny


def _raw_quota(b: relay.Balance) -> int | None:
    """The remaining amount in the relay's raw quota units, shown beside money."""
    if b.family not in _QUOTA_FAMILIES or b.remaining is None or b.unit == "quota":
        return None
    return round(b.info.to_usd(b.remaining) * b.info.quota_per_unit)


def _log(b: relay.Balance, family: relay.Family | None, label: str | None) -> dict | None:
    """Load the request log under the card, or say which family publishes none."""
    if b.status not in _LOGGED:
        return None
    if family is not None and relay.families.LOG not in family.can:
        return {"load": False, "text": no_log_text(label)}
    return {"load": True, "text": None}


def family_label(family: relay.Family | None) -> str | None:
    """The family's display name, translated where the catalog has it ("OpenAI-compatible")."""
    return _(family.label) if family else None


def no_log_text(label: str | None) -> str:
    """'LiteLLM publishes no per-key request log.'"""
    if label:
        return _("%(family)s publishes no per-key request log.", family=label)
    return _("This relay publishes no per-key request log.")
