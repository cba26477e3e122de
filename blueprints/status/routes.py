"""Status URLs: the public page, one provider's page, /status.json, feeds, badges, the widget.

The admin form of a provider's monitor is admin's (blueprints/admin/monitor.py).
"""

from __future__ import annotations

from flask import Blueprint, current_app

from extensions import limiter

from . import pages, public

bp = Blueprint("status", __name__)


def _limit() -> str:
    return current_app.config["STATUS_RATE_LIMIT"]


@bp.get("/status")
@limiter.limit(_limit)
def index():
    """Every public provider: state, uptime, day bars, latency, models, incidents."""
    return pages.index_page()


@bp.get("/status.json")
@limiter.limit(_limit)
def feed():
    """The same as JSON (public providers only), cached briefly."""
    return pages.feed()


@bp.get("/status/feed.<any(atom, rss):kind>")
@limiter.limit(_limit)
def feed_all(kind: str):
    """Atom or RSS of incidents, incident notes and notices of every public provider."""
    return public.feed(kind, None)


@bp.get("/status/<name>")
@limiter.limit(_limit)
def provider(name: str):
    """One provider: charts over a range, day bars, incident history, per-model detail."""
    return pages.provider_page(name)


@bp.get("/status/<name>/badge.svg")
@limiter.limit(_limit)
def badge(name: str):
    """An SVG badge: ?metric=status|uptime|models&window=24h|7d|30d|90d."""
    return pages.badge_svg(name)


@bp.get("/status/<name>/feed.<any(atom, rss):kind>")
@limiter.limit(_limit)
def feed_provider(name: str, kind: str):
    """One public provider's feed (notices for every provider included)."""
    return public.feed(kind, name)


@bp.get("/status/<name>/widget")
@limiter.limit(_limit)
def widget(name: str):
    """A small card for an <iframe> on other sites (core/security lets this route be framed)."""
    return public.widget(name)
