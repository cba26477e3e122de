"""The feature blueprints, registered from this one list."""

from flask import Flask

from extensions import babel
from relay.redact import install as redact_logs

from .admin import bp as admin
from .alerts import bp as alerts
from .auth import bp as auth
from .core import bp as core
from .core import security
from .core.i18n import select_locale, select_timezone
from .keys import bp as keys
from .lookup import bp as lookup
from .metrics import bp as metrics
from .playground import bp as playground
from .providers import bp as providers
from .scheduler import bp as scheduler
from .scheduler.runner import start_in_process
from .shared import budgets, vault
from .status import bp as status
from .usage import bp as usage

BLUEPRINTS = (
    core,
    providers,
    lookup,
    auth,
    keys,
    alerts,
    usage,
    playground,
    status,
    metrics,
    admin,
    scheduler,
)


def init_app(app: Flask) -> None:
    """App-wide wiring that belongs to no single blueprint."""
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    security.init_app(app)
    redact_logs(app.logger.name)
    vault.init_app(app)
    budgets.init_app(app)
    start_in_process(app)
