"""Create or upgrade the schema, and seed providers only when the database is new."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic.migration import MigrationContext
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import text

from blueprints.providers.service import seed_defaults
from database import SETUP_STEPS, db

# pg_advisory_lock's key for `flask setup` ("relaydash setup" in a bigint: any fixed number).
SETUP_LOCK = 0x5245_4C41_5953_4554


def setup_database() -> int:
    """Upgrade to the newest schema; return how many default providers were seeded.

    Then runs the steps features registered (database.setup_step): every run's (usage: the
    stored day zones follow USAGE_DAY_ZONES), and on the first run, after seeding, the first
    run's (status: watch the seeded providers' reachability).
    """
    with setup_lock():
        with db.engine.connect() as connection:
            first_run = MigrationContext.configure(connection).get_current_revision() is None
        upgrade()
        _run_steps(first_run=False)
        if not first_run:
            return 0
        seeded = seed_defaults(current_app.config.get("DEFAULT_PROVIDERS") or [])
        _run_steps(first_run=True)
        return seeded


@contextmanager
def setup_lock() -> Iterator[None]:
    """One `flask setup` at a time: on PostgreSQL a session advisory lock, held on a connection
    of its own until the upgrade and the seeding are done, so a second run started meanwhile
    waits and then finds the schema at head (and seeds nothing). SQLite needs none: its file
    lock serialises the writers."""
    if db.engine.dialect.name != "postgresql":
        yield
        return
    with db.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SETUP_LOCK})
        connection.commit()  # the lock outlives the transaction; don't sit idle in one
        try:
            yield
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SETUP_LOCK})
                connection.commit()
            except Exception:
                connection.invalidate()  # never pool a connection that may still hold it
                raise


def _run_steps(*, first_run: bool) -> None:
    for step, only_first in SETUP_STEPS.values():
        if only_first == first_run:
            step()
