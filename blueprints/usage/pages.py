"""Picking the viewer's zone and range, and rendering the usage pages (views stay short)."""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo

from flask import make_response, request
from flask_login import current_user

from blueprints.keys.family import no_log_note
from blueprints.keys.service import my_keys
from blueprints.shared import no_store, render_htmx
from blueprints.shared.times import cookie_zone

from . import charts, queries, report
from .days import zone
from .texts import reconcile_text, source_note, source_tag

CHOICE_COOKIE = "tz_choice"
# Vendored plotly.js (basic bundle: bar + scatter), same major version as the plotly wheel,
# and its zh-CN locale (axis dates, modebar) for Chinese pages.
ZONES = (
    "UTC",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
)


def viewer_zone() -> tuple[tzinfo, str, bool]:
    """(zone, its name, chosen now?): ?tz= → remembered choice → the browser's zone → UTC."""
    asked = request.args.get("tz")
    for name, fresh in (
        (asked, True),
        (request.cookies.get(CHOICE_COOKIE), False),
        (cookie_zone(), False),
    ):
        found = zone(name) if name and len(name) <= 64 else None
        if found is not None:
            return found, name, fresh
    return ZoneInfo("UTC"), "UTC", False


def _respond(template: str, partial: str, name: str, fresh: bool, **context):
    response = render_htmx(
        template,
        partial,
        zone_name=name,
        zones=ZONES,
        fig=charts.figure_json,
        reconcile_text=reconcile_text,
        source_note=source_note,
        source_tag=source_tag,
        **context,
    )
    no_store(response)
    if fresh:
        response.set_cookie(CHOICE_COOKIE, name, max_age=365 * 86400, samesite="Lax")
    return response


def overview_page():
    """/usage: every key of mine at a glance."""
    zone_, name, fresh = viewer_zone()
    keys = my_keys(current_user)
    data = report.overview(keys, zone_, sort=request.args.get("sort", "runway"))
    return _respond("usage/index.html", "usage/_overview.html", name, fresh, keys=keys, **data)


def key_page(key):
    """/usage/<id>: one key over the chosen range."""
    zone_, name, fresh = viewer_zone()
    span = report.span_from(request.args, zone_)
    data = report.key_report(key, span, zone_)
    return _respond("usage/key.html", "usage/_report.html", name, fresh, k=key, **data)


def key_csv(key):
    """The chosen range's daily rows as CSV."""
    zone_, _name, _fresh = viewer_zone()
    span = report.span_from(request.args, zone_)
    days = queries.daily_spend([key.id], span.start, span.end, zone_)
    body = report.days_csv(days, key.unit, logged=no_log_note(key) is None)
    response = make_response(body)
    response.mimetype = "text/csv"
    filename = f"relaydash-{key.id}-{span.start}-{span.end}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return no_store(response)
