"""Rate-limit counters every process shares: Flask-Limiter's storage in the database.

Without Redis, several web workers (or machines on one PostgreSQL) must still count a client's
lookups together; Flask-Limiter's own memory storage counts per process, so `-w 4` lets four
times the limit through. This is a `limits` storage (scheme `relaydash-db://`) for the
fixed-window strategy: one row per limit and client, counted with one INSERT … ON CONFLICT DO
UPDATE … RETURNING, so concurrent hits never share a count. The window's end is judged by the
database's clock. On SQLite the rows live in the side file the relay budgets use
(store.counters_url).
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime

from flask import Flask
from limits.storage import Storage
from sqlalchemy import String, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import CreateTable

from database import UTCDateTime, db, db_now

from .store import counters_engine, counters_url

SCHEME = "relaydash-db"


class LimitCounter(db.Model):
    """Hits of one rate limit by one client in its current fixed window."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


_table = LimitCounter.__table__


def _key(key: str) -> str:
    """Flask-Limiter's key (route, client, limit); hashed when it would not fit the column."""
    return key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(Storage):
    """Fixed-window counters in a database table (SQLite or PostgreSQL)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        # `relaydash-db:<SQLAlchemy URL of the side file>` (SQLite), or `relaydash-db:` alone:
        # the app's own engine and pool (a server database), looked up per call. In the URI, not
        # in RATELIMIT_STORAGE_OPTIONS: Flask-Limiter hands those to any storage it makes.
        self._url = (uri or "").partition(":")[2].removeprefix("//")
        self._create = bool(self._url)  # SQLite's side file: made on first use
        self._engine = None

    @property
    def engine(self):
        if not self._url:
            return db.engine
        if self._engine is None:
            self._engine = counters_engine(self._url)
        if self._create:
            with self._engine.begin() as connection:
                connection.execute(CreateTable(_table, if_not_exists=True))
            self._create = False
        return self._engine

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Count `amount` hits; a window that has ended starts again from them."""
        engine = self.engine
        insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert
        new = insert(_table).values(key=_key(key), hits=amount, expires_at=db_now(expiry))
        ended = _table.c.expires_at <= db_now()
        statement = new.on_conflict_do_update(
            index_elements=[_table.c.key],
            set_={
                "hits": case((ended, amount), else_=_table.c.hits + amount),
                "expires_at": case((ended, db_now(expiry)), else_=_table.c.expires_at),
            },
        ).returning(_table.c.hits)
        with engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())

    def get(self, key: str) -> int:
        with self.engine.connect() as connection:
            current = (_table.c.key == _key(key)) & (_table.c.expires_at > db_now())
            hits = connection.scalar(select(_table.c.hits).where(current))
        return int(hits or 0)

    def get_expiry(self, key: str) -> float:
        """When the window ends, as a Unix time (now when there is none)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(_table.c.expires_at, db_now()).where(_table.c.key == _key(key))
            ).first()
        if row is None:
            return time.time()
        ends, now = row
        # The database's clock decides; this process's only turns it into a Unix time.
        return time.time() + max(0.0, (ends - _aware(now)).total_seconds())

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return connection.execute(delete(_table)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(_table).where(_table.c.key == _key(key)))


def _aware(value) -> datetime:
    """db_now() read back: text on SQLite, an aware datetime on PostgreSQL."""
    return UTCDateTime().process_result_value(
        datetime.fromisoformat(value) if isinstance(value, str) else value, None
    )


def configure_limiter(app: Flask) -> None:
    """Point Flask-Limiter at the shared counters unless RATELIMIT_STORAGE_URI names a storage:
    Redis when REDIS_URL is set, else the database (memory for an in-memory SQLite database)."""
    if app.config.get("RATELIMIT_STORAGE_URI"):
        return
    if app.config.get("REDIS_URL"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]
        return
    with app.app_context():
        url = db.engine.url
    where = counters_url(url)
    if where is None:
        app.config["RATELIMIT_STORAGE_URI"] = "memory://"
        return
    side = where if url.get_backend_name() == "sqlite" else ""
    app.config["RATELIMIT_STORAGE_URI"] = f"{SCHEME}:{side}"
