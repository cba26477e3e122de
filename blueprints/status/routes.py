"""Status URLs: the public page, one provider's page, /status.json and SVG badges; admin tools."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from blueprints.auth.access import admin_required
from extensions import limiter

from . import admin, pages

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


@bp.get("/status/<name>")
@limiter.limit(_limit)
def provider(name: str):
    """One provider: charts over a range, day bars, incident history, per-model detail."""
    return pages.provider_page(name)


@bp.get("/status/<name>/badge.svg")
@limiter.limit(_limit)
def badge(name: str):
    """An SVG badge: ?metric=status|uptime&window=24h|7d|30d|90d."""
    return pages.badge_svg(name)


@bp.get("/admin/status/<int:pid>")
@admin_required
def settings(pid: int):
    """Monitor settings, incidents and notices of one provider."""
    return admin.settings_page(pid)


@bp.post("/admin/status/<int:pid>")
@admin_required
def save_settings(pid: int):
    """Save the monitor settings."""
    return admin.save_settings(pid, request.form)


@bp.post("/admin/status/<int:pid>/notices")
@admin_required
def add_notice(pid: int):
    """Add an announcement or a maintenance window."""
    return admin.add_notice(pid, request.form)


@bp.post("/admin/status/notices/<int:notice_id>/end")
@admin_required
def end_notice(notice_id: int):
    """End an announcement or maintenance window now."""
    return admin.end_notice(notice_id)


@bp.post("/admin/status/incidents/<int:incident_id>/notes")
@admin_required
def add_note(incident_id: int):
    """Add an update note to an incident."""
    return admin.add_note(incident_id, request.form)
