"""The shared store: Redis when REDIS_URL is configured, else nothing (callers use the database).

What several workers and machines must agree on (relay request budgets) lives there, never in one
process's memory. The client is made once per app; redis-py's pool is thread-safe.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL


def redis_client():
    """The app's Redis client, or None when REDIS_URL is not set."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("redis")
    if client is None:
        import redis  # the `redis` extra: only deployments that configure it need it

        client = redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=2.0)
        current_app.extensions["redis"] = client
    return client


def counters_url(url: URL) -> str | None:
    """Where the shared counters (relay budgets, rate limits) live without Redis: a server
    database's own tables, or for a SQLite file a file beside it (`<name>-shared.sqlite`: SQLite
    locks a whole file, and a request or pass holding the database's write lock would otherwise
    wait for itself). None for an in-memory SQLite database (one process's anyway)."""
    if url.get_backend_name() != "sqlite":
        return url.render_as_string(hide_password=False)
    if not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    side = url.set(database=str(path.with_name(f"{path.stem}-shared.sqlite")))
    return side.render_as_string(hide_password=False)


def counters_engine(url: str) -> Engine:
    """An engine on counters_url(), its pooled connections tested before use (a SQLite file gets
    database.py's pragmas too: WAL, busy timeout, mode 0600)."""
    return create_engine(url, pool_pre_ping=True)
