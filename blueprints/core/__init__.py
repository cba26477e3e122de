"""App-wide pieces: security headers, language, error pages, setup CLI."""

from flask import Blueprint

bp = Blueprint("core", __name__, cli_group=None)

from . import cli, routes, security  # noqa: E402,F401  (registers views, hooks and commands)
