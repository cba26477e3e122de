"""Assembling the lookup pages and fragments (so the views stay a few lines each)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

from flask import current_app, make_response, render_template
from flask_babel import get_timezone
from flask_babel import gettext as _

import relay
from blueprints.providers.models import Provider
from blueprints.providers.service import list_providers
from blueprints.shared import inputs, no_store, render_htmx
from relay import http
from relay.calls import LOG_TOKEN
from relay.keys import mask

from . import batch, limits, requestlog
from .card import card, family_label, no_log_text
from .forms import int_field
from .messages import input_error
from .service import BadInput, load_log, lookup_key


def page(template: str, partial: str | None = None, status: int = 200, **context):
    """A lookup page (or its partial for htmx) with the provider list, never cached."""
    context.setdefault("providers", list_providers(include_hidden=False))
    return no_store(render_htmx(template, partial, status, **context))


def result(provider: Provider, key: str):
    """The result card for one key (full page without JS)."""
    view = card(provider, lookup_key(provider, key), mask(key))
    return page("lookup/index.html", "lookup/_result.html", card=view, chosen=provider.name)


def refused(error: BadInput, template: str, partial: str, *, fragment: bool = False):
    """Our own input error, as a card with the right status code."""
    limit = current_app.config["BATCH_MAX_KEYS"]
    message = input_error(error.code, limit=limit) if error.code == "too_many_keys" else None
    message = message or input_error(error.code)
    if fragment:
        return no_store(make_response(render_template(partial, input_error=message), error.status))
    return page(template, partial, error.status, input_error=message)


def log_fragment(provider: Provider, key: str, form) -> dict:
    """Context for the request-log fragment: a sorted page plus the summaries."""
    result = load_log(provider, key)
    zone = get_timezone()
    first, last, range_error = log_range(form)
    rows = requestlog.in_range(result.rows or [], first, last, zone)
    sort_page = requestlog.page_of(
        rows,
        form.get("sort", "time"),
        form.get("dir", "desc") != "asc",
        int_field(form, "page", 1),
        int_field(form, "size", 20),
    )
    return {
        "result": result,
        "unit": result.unit,
        "p": sort_page,
        "models": requestlog.by_model(rows),
        "days": requestlog.by_day(rows, zone),
        "zone": zone,
        "zone_name": getattr(zone, "key", None) or str(zone),
        "rl": requestlog,
        "first": first,
        "last": last,
        "range_error": range_error,
        "unavailable": unavailable(provider, result) if result.rows is None else None,
    }


def log_csv(provider: Provider, key: str, form) -> bytes:
    """The request log (in its date range) as CSV; a range we cannot read is refused (400)."""
    result = load_log(provider, key)
    zone = get_timezone()
    rows = requestlog.in_range(result.rows or [], *_dates(form), zone)
    return requestlog.to_csv(rows, result.unit, zone)


def log_range(form) -> tuple[date | None, date | None, str | None]:
    """The request log's date range (from/to, either open), or why it cannot be used."""
    try:
        return *_dates(form), None
    except inputs.BadValue as error:
        return None, None, inputs.message(error)


def _dates(form) -> tuple[date | None, date | None]:
    """From and to as dates (BadValue if unreadable); typed the wrong way round, the same days."""
    high = inputs.LAST_DAY - timedelta(days=1)  # the day after `to` must still exist
    first = inputs.iso_date(form.get("from"), _("From"), high=high)
    last = inputs.iso_date(form.get("to"), _("To"), high=high)
    if first and last and first > last:
        first, last = last, first
    return first, last


def unavailable(provider: Provider, result: relay.LogResult) -> tuple[str, str]:
    """(why there is no log, what to do) in plain words."""
    answer = result.answer
    if answer.kind == http.SKIPPED:
        return no_log_text(family_label(relay.FAMILIES.get(result.generation or ""))), ""
    if answer.kind == http.RATE_LIMITED:
        return limits.budget_texts(
            provider.base_url, limits.LOG_READS, answer.retry_after, LOG_TOKEN
        )
    if answer.kind in (http.NOT_FOUND, http.HTML):
        return _("This relay has no per-key log endpoint (/api/log/token)."), ""
    if answer.kind == http.DENIED:
        return _("The relay refused to show the log for this key."), ""
    return _("The request log could not be loaded right now. Try again later."), ""


def batch_stream(provider: Provider, keys: list[str], skipped: int) -> Iterator[str]:
    """NDJSON lines: the empty table, one rendered row per finished key, then the CSV button."""
    masked = [mask(key) for key in keys]
    start = render_template("lookup/_batch_table.html", masked=masked, skipped=skipped, rows=None)
    yield json.dumps({"start": True, "html": start}) + "\n"
    rows: list[dict | None] = [None] * len(keys)
    for index, balance in batch.run(provider, keys):
        rows[index] = batch.row(keys[index], balance)
        html = render_template("lookup/_batch_row.html", i=index, r=rows[index])
        yield json.dumps({"i": index, "html": html, "row": rows[index]}) + "\n"
    sealed = batch.seal_table([r for r in rows if r is not None])
    foot = render_template("lookup/_batch_csv.html", csv=sealed)
    yield json.dumps({"done": True, "html": foot}) + "\n"


def batch_table(provider: Provider, keys: list[str]) -> list[dict]:
    """All rows at once (the no-JavaScript path), in paste order."""
    rows: list[dict | None] = [None] * len(keys)
    for index, balance in batch.run(provider, keys):
        rows[index] = batch.row(keys[index], balance)
    return [r for r in rows if r is not None]
