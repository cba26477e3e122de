"""Insert-or-replace by primary key, the one write every rollup table uses (idempotent)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from sqlalchemy.dialects import postgresql, sqlite

from database import db


def upsert(model, rows: list[dict]) -> None:
    """Insert or replace rows by primary key, in one statement per batch."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    statement = _statement(model.__table__, dialect, tuple(rows[0]))
    for batch in _chunks(rows, 1000):
        db.session.execute(statement, batch)


@cache
def _statement(table, dialect: str, names: tuple[str, ...]):
    # Built once: the poller upserts after every sample and building it costs more than running it.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    keys = [column.name for column in table.primary_key]
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: statement.excluded[name] for name in names if name not in keys},
    )


def _chunks(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
