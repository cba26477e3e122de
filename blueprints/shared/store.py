"""The shared store: Redis when REDIS_URL is configured, else nothing (callers use the database).

What several workers and machines must agree on (relay request budgets) lives there, never in one
process's memory. The client is made once per app; redis-py's pool is thread-safe.
"""

from __future__ import annotations

from flask import current_app


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
