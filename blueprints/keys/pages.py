"""Building the keys pages' context, so the views stay a few lines each."""

from __future__ import annotations

from flask import current_app, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.providers.service import list_providers
from blueprints.shared import no_store, render_htmx
from blueprints.shared.texts import STATUS_LABELS, error_label
from database import db

from . import service
from .advice import budget_advice
from .family import NO_BALANCE, UNCHECKED, key_facts
from .forms import MESSAGES
from .models import BalanceSample, TrackedKey
from .recent import requests_page


def rows_context() -> dict:
    """Everything the key table needs for the current user."""
    keys = service.my_keys(current_user)
    return {
        "keys": keys,
        "spend": service.spend_since(keys),
        "labels": STATUS_LABELS,
        "budget_warnings": budget_warnings(keys),
    }


def budget_warnings(keys: list[TrackedKey]) -> list[str]:
    """One sentence per provider whose request budget cannot fit every key's poll interval.

    The budget is per relaydash server, so every user's keys on that provider count.
    """
    warnings = []
    for provider in {k.provider.id: k.provider for k in keys}.values():
        advice = budget_advice(provider, service.provider_keys(provider))
        if advice is None:
            continue
        text = _(
            "%(provider)s: the keys tracked on it need about %(needed)s calls "
            "per %(seconds)s s, but the request budget is %(budget)s. "
            "Polls are spread out and run late.",
            provider=provider.name,
            needed=advice["calls_needed"],
            seconds=advice["budget_seconds"],
            budget=advice["budget"],
        )
        if advice["fit_interval_minutes"]:
            text += " " + _(
                "An interval of %(minutes)s min or more would fit.",
                minutes=advice["fit_interval_minutes"],
            )
        warnings.append(text)
    return warnings


def index(status: int = 200, error: str | None = None, form=None):
    """The My keys page (or just its table for htmx)."""
    context = rows_context()
    context.update(providers=list_providers(), error=error, form=form or {})
    # A refused add needs the form and its message, which only the whole page has.
    partial = None if error else "keys/_rows.html"
    return no_store(render_htmx("keys/index.html", partial, status, **context))


def refused(code: str, form) -> tuple:
    """The add form again with a clear message and a 400."""
    return index(400, str(MESSAGES.get(code, MESSAGES["bad_number"])), form)


def detail(tracked: TrackedKey, status: int = 200, error: str | None = None):
    """One key: settings, recent samples and a page of its requests (?page=, 20 a page)."""
    samples = db.session.scalars(
        db.select(BalanceSample)
        .where(BalanceSample.key_id == tracked.id)
        .order_by(BalanceSample.taken_at.desc())
        .limit(50)
    ).all()
    usage = requests_page(tracked.id, request.args.get("page"))
    html = render_template(
        "keys/detail.html",
        k=tracked,
        samples=samples,
        usage=usage,
        labels=STATUS_LABELS,
        error_label=error_label,
        error=error,
        facts=key_facts(tracked),
        # The usage feature's page of this key, when that feature is installed.
        usage_url=(
            url_for("usage.key", key_id=tracked.id)
            if "usage.key" in current_app.view_functions
            else None
        ),
        unchecked=UNCHECKED,
        quiet_codes=(NO_BALANCE, UNCHECKED),  # said in words elsewhere on the page
    )
    return no_store(make_response(html, status))
