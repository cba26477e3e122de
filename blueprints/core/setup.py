"""Create or upgrade the schema, and seed providers only when the database is new."""

from __future__ import annotations

from alembic.migration import MigrationContext
from flask import current_app
from flask_migrate import upgrade

from blueprints.providers.service import list_providers, seed_defaults
from blueprints.status.settings import monitor_defaults
from blueprints.usage.daily import sync_zones
from database import db


def setup_database() -> int:
    """Upgrade to the newest schema; return how many default providers were seeded.

    Also brings the stored day zones in line with USAGE_DAY_ZONES (daily rollups), and on the
    first run watches the seeded providers' reachability (status page).
    """
    with db.engine.connect() as connection:
        first_run = MigrationContext.configure(connection).get_current_revision() is None
    upgrade()
    sync_zones()
    if not first_run:
        return 0
    seeded = seed_defaults(current_app.config.get("DEFAULT_PROVIDERS") or [])
    monitor_defaults(list_providers())  # the seeded relays' reachability on /status from the start
    return seeded
