"""Create or upgrade the schema, and seed providers only when the database is new."""

from __future__ import annotations

from alembic.migration import MigrationContext
from flask import current_app
from flask_migrate import upgrade

from blueprints.providers.service import seed_defaults
from database import SETUP_STEPS, db


def setup_database() -> int:
    """Upgrade to the newest schema; return how many default providers were seeded.

    Then runs the steps features registered (database.setup_step): every run's (usage: the
    stored day zones follow USAGE_DAY_ZONES), and on the first run, after seeding, the first
    run's (status: watch the seeded providers' reachability).
    """
    with db.engine.connect() as connection:
        first_run = MigrationContext.configure(connection).get_current_revision() is None
    upgrade()
    _run_steps(first_run=False)
    if not first_run:
        return 0
    seeded = seed_defaults(current_app.config.get("DEFAULT_PROVIDERS") or [])
    _run_steps(first_run=True)
    return seeded


def _run_steps(*, first_run: bool) -> None:
    for step, only_first in SETUP_STEPS.values():
        if only_first == first_run:
            step()
