"""A lease row that lets exactly one scheduler act across every process sharing the database.

Taking or renewing is one conditional UPDATE (ours, or expired) and, when no row exists yet, an
INSERT that the primary key lets only one process win. Both are atomic on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from database import db, utcnow

from .models import Lease

_table = Lease.__table__


def acquire(name: str, holder: str, ttl: float, now: datetime | None = None) -> bool:
    """Take or renew the lease for `ttl` seconds; False while someone else holds it."""
    now = now or utcnow()
    expires = now + timedelta(seconds=ttl)
    try:
        taken = db.session.execute(
            update(_table)
            .where(_table.c.name == name)
            .where(or_(_table.c.holder == holder, _table.c.expires_at < now))
            .values(holder=holder, expires_at=expires)
        ).rowcount
        if not taken:
            exists = db.session.scalar(select(_table.c.name).where(_table.c.name == name))
            if exists is not None:
                db.session.rollback()
                return False
            db.session.execute(insert(_table).values(name=name, holder=holder, expires_at=expires))
        db.session.commit()
        return True
    except (IntegrityError, OperationalError):
        # Someone inserted first, or the database stayed locked: not ours this time.
        db.session.rollback()
        return False


def release(name: str, holder: str) -> None:
    """Give the lease up (only if we hold it), so a standby takes over at once."""
    try:
        db.session.execute(delete(_table).where(_table.c.name == name, _table.c.holder == holder))
        db.session.commit()
    except OperationalError:
        db.session.rollback()  # shutting down on a locked database: the lease simply expires


def holder_of(name: str, now: datetime | None = None) -> str | None:
    """Who holds the lease right now (None: nobody, or it expired)."""
    row = db.session.execute(
        select(_table.c.holder, _table.c.expires_at).where(_table.c.name == name)
    ).first()
    return row.holder if row is not None and row.expires_at >= (now or utcnow()) else None
