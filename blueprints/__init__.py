"""The feature blueprints, registered from this one list."""

from flask import Flask

from app import babel
from relay.redact import install as redact_logs

from .core import bp as core
from .core.i18n import select_locale, select_timezone
from .lookup import bp as lookup
from .providers import bp as providers

BLUEPRINTS = (core, providers, lookup)


def init_app(app: Flask) -> None:
    """App-wide wiring that belongs to no single blueprint."""
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    redact_logs(app.logger.name)
