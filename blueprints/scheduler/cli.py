"""`flask poll-once` and `flask scheduler`."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("scheduler", __name__, cli_group=None)
