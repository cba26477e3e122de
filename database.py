"""The database: declarative base, aware-UTC timestamps, the `db` object, SQLite pragmas and the
data steps `flask setup` runs after upgrading the schema."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Float, MetaData, TypeDecorator, event, literal, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.sql.functions import FunctionElement


def utcnow() -> datetime:
    """Timezone-aware now, for every stored timestamp."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class db_now(FunctionElement):  # noqa: N801 (used like func.now())
    """SQL: the database's clock, `seconds` ahead, for times every process must judge alike.

    It compares with, and can be stored in, UTCDateTime columns. On SQLite it is the text
    SQLAlchemy stores there ('YYYY-MM-DD HH:MM:SS.ffffff', UTC), so the two compare as text
    (CURRENT_TIMESTAMP has no fraction: '…:05' sorts before '…:05.000000'). On PostgreSQL it is
    clock_timestamp(), not now(), which stays at the transaction's start.
    """

    type = UTCDateTime()
    inherit_cache = True
    name = "db_now"

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__(literal(float(seconds), Float()))


@compiles(db_now)
def _db_now_sqlite(element, compiler, **kw):
    seconds = compiler.process(element.clauses, **kw)
    # 'now' has millisecond precision; three zeros make it the six digits SQLAlchemy writes.
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', printf('%+.3f seconds', {seconds})) || '000')"


@compiles(db_now, "postgresql")
def _db_now_postgresql(element, compiler, **kw):
    seconds = compiler.process(element.clauses, **kw)
    return f"(clock_timestamp() + {seconds} * INTERVAL '1 second')"


class round_float(FunctionElement):  # noqa: N801 (used like func.round())
    """SQL: round(value, digits) for a double-precision value, on every database.

    SQLite's round() takes a REAL; PostgreSQL has round(numeric, int) only, not
    round(double precision, int), so there the value goes through NUMERIC and back.
    """

    type = Float()
    inherit_cache = True
    name = "round_float"

    def __init__(self, value, digits: int) -> None:
        super().__init__(value, literal(int(digits)))


@compiles(round_float)
def _round_float(element, compiler, **kw):
    value, digits = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"round({value}, {digits})"


@compiles(round_float, "postgresql")
def _round_float_postgresql(element, compiler, **kw):
    value, digits = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(round(CAST({value} AS NUMERIC), {digits}) AS DOUBLE PRECISION)"


class Base(DeclarativeBase):
    """Declarative base: aware datetimes, stable constraint names (portable Alembic diffs)."""

    registry = registry(
        metadata=MetaData(
            naming_convention={
                "ix": "ix_%(column_0_label)s",
                "uq": "uq_%(table_name)s_%(column_0_name)s",
                "ck": "ck_%(table_name)s_%(constraint_name)s",
                "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
                "pk": "pk_%(table_name)s",
            }
        ),
        type_annotation_map={datetime: UTCDateTime()},
    )


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # The poller writes while requests read: WAL, a busy timeout and real foreign keys.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        _owner_only(cursor)  # before WAL mode: SQLite gives -wal/-shm the database file's mode
        # First: switching a new file to WAL needs its lock, and processes opening it together
        # (two workers' first requests) must wait for each other, not fail at once.
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Safe with WAL (no corruption on power loss, at worst the last commits) and much cheaper.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _owner_only(cursor: sqlite3.Cursor) -> None:
    """Make the database file and its -wal/-shm mode 0600: they hold ciphertext and history."""
    for _, _name, path in cursor.execute("PRAGMA database_list").fetchall():
        for name in (path, f"{path}-wal", f"{path}-shm") if path else ():
            try:
                if os.stat(name).st_mode & 0o077:
                    os.chmod(name, 0o600)
            except FileNotFoundError:
                pass  # -wal/-shm appear later, with the mode set above
            except PermissionError:
                pass  # someone else's file (a shared deployment): theirs to set


def lock_transaction(name: str) -> None:
    """Serialise this session's transaction with every other that locks `name`, until it ends:
    count-then-insert limits (a user's open playground runs) stay exact across workers. On
    PostgreSQL a transaction advisory lock; SQLite needs none once the transaction has written
    (its write lock covers the whole file until commit), so callers write first."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
        )


# What `flask setup` runs after the schema upgrade: name -> (step, first_run). Features register
# their own steps when they are imported (in import order), so the setup command imports none.
SETUP_STEPS: dict[str, tuple[Callable[[], object], bool]] = {}


def setup_step(*, first_run: bool = False):
    """Decorator: `flask setup` calls the function on every run, or (first_run) only when the
    database was new, after the default providers were seeded."""

    def register(step: Callable[[], object]) -> Callable[[], object]:
        SETUP_STEPS[f"{step.__module__}.{step.__qualname__}"] = (step, first_run)
        return step

    return register
