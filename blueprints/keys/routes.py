"""My keys: list, add, edit, pause, delete (login required, owners only)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("keys", __name__, url_prefix="/keys")
