"""The test database of a test folder: a SQLite file, or with RELAYDASH_TEST_DATABASE_URL (a
PostgreSQL URL whose user may create databases) a database of its own, created empty.

Its own module, not conftest: pytest loads conftest.py as `conftest` and the tests import it as
`tests.conftest`, two modules, while this state must be one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

TEST_DATABASE_URL = os.environ.get("RELAYDASH_TEST_DATABASE_URL") or None
ON_SQLITE = TEST_DATABASE_URL is None or TEST_DATABASE_URL.startswith("sqlite")
# RELAYDASH_TEST_REDIS_URL: the rate limiter's storage (a database emptied before each test).
TEST_REDIS_URL = os.environ.get("RELAYDASH_TEST_REDIS_URL") or None

# PostgreSQL databases made for test folders: name -> folder (dropped with the folder's test).
DATABASES: dict[str, Path] = {}
# Folders whose database outlives the test that made it (keep_database).
KEPT: set[Path] = set()
# The apps make_app built during the running test (their engines are disposed after it).
APPS: list = []


def _server():
    """An AUTOCOMMIT engine on RELAYDASH_TEST_DATABASE_URL, for CREATE/DROP DATABASE."""
    return create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def database_uri(folder: Path) -> str:
    """The test database of this folder: its SQLite file, or its own PostgreSQL database
    (created empty on first use, so a second make_app on the same folder reopens it)."""
    if ON_SQLITE:
        return f"sqlite:///{folder / 'test.sqlite'}"
    digest = hashlib.sha256(f"{os.getpid()}:{folder}".encode()).hexdigest()[:20]
    name = f"relaydash_test_{digest}"
    if name not in DATABASES:
        with _server().connect() as server:
            server.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            server.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        DATABASES[name] = folder
    return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


def copy_database(source: Path, folder: Path) -> None:
    """Give `folder` a copy of `source`'s test database (its engines must be disposed)."""
    if ON_SQLITE:
        shutil.copy(source / "test.sqlite", folder / "test.sqlite")
        return
    origin = make_url(database_uri(source)).database
    target = make_url(database_uri(folder)).database
    with _server().connect() as server:
        server.execute(text(f'DROP DATABASE "{target}" WITH (FORCE)'))
        server.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{origin}"'))


def keep_database(folder: Path) -> None:
    """Keep the folder's test database past the running test (a module-scoped fixture's)."""
    KEPT.add(folder)


def drop_databases(*, kept: bool = False) -> None:
    """Drop the test databases made so far, but those kept unless `kept`."""
    names = [n for n, f in DATABASES.items() if kept or f not in KEPT]
    if not names:
        return
    with _server().connect() as server:
        for name in names:
            server.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            del DATABASES[name]


def flush_redis() -> None:
    """Empty the tests' Redis database, so no test sees another's rate-limit counters."""
    if TEST_REDIS_URL:
        import redis  # the redis extra: only when the tests run with Redis

        client = redis.Redis.from_url(TEST_REDIS_URL)
        try:
            client.flushdb()
        finally:
            client.close()
