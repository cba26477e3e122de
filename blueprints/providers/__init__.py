"""Relay providers: the base URLs an admin configured (the only ones lookups may call)."""

from flask import Blueprint

bp = Blueprint("providers", __name__, cli_group="providers")

from . import cli, models  # noqa: E402,F401  (registers commands and tables)
