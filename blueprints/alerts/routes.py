"""Alert channels, test sends and the delivery log (login required)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("alerts", __name__, url_prefix="/alerts")
