"""Liveness and readiness, for process managers and load balancers (no login, JSON only)."""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

from blueprints.shared.store import redis_client
from database import db

from .routes import bp


@bp.get("/healthz")
def health():
    """Liveness: the process answers. Touches nothing else, so a database outage does not get
    every worker restarted."""
    return {"ok": True}


@bp.get("/readyz")
def ready():
    """Readiness: the database answers and is migrated to the code's head, and the shared store
    (when configured) answers. 503 with the first failing check as `reason` otherwise."""
    checks = {}
    for name, check in (("database", _database), ("store", _store)):
        reason = check()
        checks[name] = reason or "ok"
        if reason:
            return {"ready": False, "reason": reason, "checks": checks}, 503
    return {"ready": True, "checks": checks}


def _database() -> str | None:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as error:  # any driver's way of saying it is down
        current_app.logger.warning("readyz: database unreachable: %s", type(error).__name__)
        return "database_unreachable"
    if current != _script_heads():
        return "migrations_not_at_head"
    return None


def _script_heads() -> set[str]:
    """The heads of migrations/ (what `flask setup` migrates to), read once per app."""
    heads = current_app.extensions.get("migration_heads")
    if heads is None:
        directory = current_app.extensions["migrate"].directory
        heads = set(ScriptDirectory(directory).get_heads())
        current_app.extensions["migration_heads"] = heads
    return heads


def _store() -> str | None:
    client = redis_client()
    if client is None:
        return None
    try:
        client.ping()
    except Exception as error:
        current_app.logger.warning("readyz: shared store unreachable: %s", type(error).__name__)
        return "store_unreachable"
    return None
