"""Create or upgrade the schema, and seed providers only when the database is new."""

from __future__ import annotations

from alembic.migration import MigrationContext
from flask import current_app
from flask_migrate import upgrade

from app import db
from blueprints.providers.service import seed_defaults
from blueprints.usage.daily import sync_zones


def setup_database() -> int:
    """Upgrade to the newest schema; return how many default providers were seeded.

    Also brings the stored day zones in line with USAGE_DAY_ZONES (daily rollups).
    """
    with db.engine.connect() as connection:
        first_run = MigrationContext.configure(connection).get_current_revision() is None
    upgrade()
    sync_zones()
    if not first_run:
        return 0
    return seed_defaults(current_app.config.get("DEFAULT_PROVIDERS") or [])
