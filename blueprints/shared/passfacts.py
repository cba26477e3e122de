"""Facts the scheduler's passes leave behind for /metrics: counters and the last pass's figures.

One small table, `pass_fact`, keyed by (name, provider_id, outcome); provider_id 0 and outcome ""
when a fact has neither. A pass writes its facts once, at its end, in its own (fenced) commit,
so every web worker reads the same figures from the database and a scrape calls no relay.
"""

from __future__ import annotations

from sqlalchemy import String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from database import db

Fact = tuple[str, int, str]  # (name, provider_id, outcome)


class PassFact(db.Model):
    """A counter (grows by what each pass adds) or a gauge (the last pass's value)."""

    __tablename__ = "pass_fact"

    name: Mapped[str] = mapped_column(String(48), primary_key=True)
    provider_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, default=0)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    value: Mapped[float] = mapped_column(default=0.0)


_table = PassFact.__table__


def note(*, add: dict[Fact, float] | None = None, put: dict[Fact, float] | None = None) -> None:
    """Add to counters and set gauges in the session's transaction (the caller commits)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for facts, grows in ((add or {}, True), (put or {}, False)):
        if not facts:
            continue
        statement = insert(_table)
        value = _table.c.value + statement.excluded.value if grows else statement.excluded.value
        statement = statement.on_conflict_do_update(
            index_elements=["name", "provider_id", "outcome"], set_={"value": value}
        )
        rows = [
            {"name": n, "provider_id": p, "outcome": o, "value": float(v)}
            for (n, p, o), v in sorted(facts.items())  # one order: no deadlock between writers
        ]
        db.session.execute(statement, rows)


def read() -> dict[Fact, float]:
    """Every stored fact."""
    rows = db.session.execute(
        select(_table.c.name, _table.c.provider_id, _table.c.outcome, _table.c.value)
    )
    return {(n, p, o): v for n, p, o, v in rows}
