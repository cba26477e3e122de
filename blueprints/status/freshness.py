"""The rendered board, kept until the data under it changes: a probe pass, an edit, a minute.

Every request reads a marker from the database (one query of cheap aggregates: the newest probe
any health row took, counters that move with every probe, notices, notes, monitors, providers)
and reuses the HTML rendered for the same marker, language, zone and page. The cache lives in
each process, but nothing depends on it: another worker that has not seen this marker renders
it once itself, so any number of workers show the same board.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from flask_babel import get_locale
from markupsafe import Markup
from sqlalchemy import case, func, select

from blueprints.providers.models import Provider
from blueprints.shared.cache import TTLCache
from blueprints.shared.times import zone_name
from database import db, utcnow

from .models import Health, Incident, IncidentNote, Monitor, Notice
from .uptime import floor

KEEP_SECONDS = 180  # a board nobody asked for again is dropped; a changed marker replaces it


def _scalars(*columns) -> list:
    return [select(column).scalar_subquery() for column in columns]


def marker() -> tuple:
    """What the board depends on, in one round trip; equal markers give equal boards."""
    public = func.sum(case((Monitor.public.is_(True), 1), else_=0))
    enabled = func.sum(case((Monitor.enabled.is_(True), 1), else_=0))
    parts = _scalars(
        func.max(Health.last_at),  # every probe moves it…
        func.count(Health.model),
        func.sum(Health.oks + 2 * Health.bad + 3 * Health.fails),  # …and these
        func.max(Health.since),
        func.max(Incident.id),
        func.count(Incident.ended_at),
        func.max(IncidentNote.id),
        func.count(IncidentNote.id),
        func.max(Notice.id),
        func.count(Notice.id),
        func.count(Notice.ends_at),
        func.max(Notice.ends_at),
        func.max(Notice.starts_at),
        func.count(Monitor.provider_id),
        public,
        enabled,
        func.sum(func.length(Monitor.probe_models)),
        func.max(Provider.id),
        func.count(Provider.id),
        func.sum(func.length(Provider.name)),
    )
    row = db.session.execute(select(*parts)).one()
    # Notices start and end, and uptime windows roll, with the clock: a new minute is new data.
    return (*(_plain(v) for v in row), floor(utcnow(), "m").isoformat())


def _plain(value):
    """Comparable and hashable alike on SQLite and PostgreSQL (datetimes, Decimals)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def _cache() -> TTLCache:
    """This app's board cache (per app, so tests' apps never share one)."""
    return current_app.extensions.setdefault("status.boards", TTLCache(max_items=64))


def board_html(page: int, render: Callable[[], str]) -> Markup:
    """The board's HTML for `page`: the one rendered for the current marker, or render() now."""
    key = f"{get_locale()}|{zone_name()}|{page}"
    now = marker()
    kept = _cache().get(key)
    if kept is not None and kept[0] == now:
        return kept[1]
    html = Markup(render())  # noqa: S704 (a rendered template: escaped already)
    _cache().set(key, (now, html), KEEP_SECONDS)
    return html
