"""Usage pages: my keys at a glance, one key's charts and KPIs, its daily CSV (owners only)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from blueprints.keys.service import owned_key

from . import pages

bp = Blueprint("usage", __name__, url_prefix="/usage")


@bp.before_request
@login_required
def _members_only() -> None:
    """Every page here needs a login."""


@bp.get("")
def index():
    """Every key of mine: remaining, spend windows, runway, stacked daily spend."""
    return pages.overview_page()


@bp.get("/<id:key_id>")
def key(key_id: int):
    """One key over a range: remaining, spend, models, tokens, requests, runway, reconcile."""
    return pages.key_page(owned_key(current_user, key_id))


@bp.get("/<id:key_id>.csv")
def key_csv(key_id: int):
    """The range's daily rows as CSV (money units, UTF-8 with BOM)."""
    return pages.key_csv(owned_key(current_user, key_id))
