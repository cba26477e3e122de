"""Usage pages (charts, KPIs, CSV): the blueprint; views come with the pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("usage", __name__, url_prefix="/usage")
