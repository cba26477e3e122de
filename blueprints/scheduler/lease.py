"""A lease row that lets exactly one scheduler act across every process sharing the database.

Taking or renewing is one conditional UPDATE (ours and live, or expired) and, when no row exists
yet, an INSERT that the primary key lets only one process win. Both are atomic on SQLite and
PostgreSQL. Expiry is judged by the database's clock (db_now), never a process's own.

Every takeover adds one to the row's generation. A pass runs under a LeaseFence holding the
generation it started with: each of its commits re-checks, in its own transaction, that the row
still has that generation and has not expired (blueprints/shared/fence.py). The check's UPDATE
holds the row (PostgreSQL) or the database (SQLite) until the commit, so a takeover waits for
the commit and the pass's rows never land after a newer holder's.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import and_, case, insert, not_, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from blueprints.shared.fence import FencedOut
from database import db, db_now

from .models import Lease

_table = Lease.__table__


def acquire(name: str, holder: str, ttl: float) -> int | None:
    """Take or renew the lease for `ttl` seconds: its generation, or None while another holds it.

    Renewing keeps the generation; taking it (the first time, or once it expired, even back from
    ourselves) moves it on, so whatever ran under the old one is fenced out.
    """
    live = _table.c.expires_at > db_now()
    ours = and_(_table.c.holder == holder, live)
    try:
        generation = db.session.scalar(
            update(_table)
            .where(_table.c.name == name, or_(ours, not_(live)))
            .values(
                holder=holder,
                generation=case((ours, _table.c.generation), else_=_table.c.generation + 1),
                expires_at=db_now(ttl),
            )
            .returning(_table.c.generation)
        )
        if generation is None:
            exists = db.session.scalar(select(_table.c.name).where(_table.c.name == name))
            if exists is not None:
                db.session.rollback()
                return None
            first = {"name": name, "holder": holder, "generation": 1, "expires_at": db_now(ttl)}
            db.session.execute(insert(_table).values(first))
            generation = 1
        db.session.commit()
        return generation
    except (IntegrityError, OperationalError):
        # Someone inserted first, or the database stayed locked: not ours this time.
        db.session.rollback()
        return None


def release(name: str, holder: str) -> None:
    """Give the lease up (only if we hold it), so a standby takes over at once.

    The row stays, expired, so the next holder's generation is still one more.
    """
    try:
        db.session.execute(
            update(_table)
            .where(_table.c.name == name, _table.c.holder == holder)
            .values(expires_at=db_now())
        )
        db.session.commit()
    except OperationalError:
        db.session.rollback()  # shutting down on a locked database: the lease simply expires


def holder_of(name: str) -> str | None:
    """Who holds the lease right now (None: nobody, or it expired)."""
    return db.session.scalar(
        select(_table.c.holder).where(_table.c.name == name, _table.c.expires_at > db_now())
    )


def generation_of(name: str) -> int | None:
    """The lease's generation (None: never taken)."""
    return db.session.scalar(select(_table.c.generation).where(_table.c.name == name))


class LeaseFence:
    """The fence of a pass that started under `generation` (see blueprints/shared/fence.py).

    Relay calls are gated more cheaply than writes: a confirmation is trusted for a quarter of
    the lease before the database is asked again, and `stopping` (SIGTERM) ends them at once.
    """

    def __init__(
        self, name: str, generation: int, ttl: float, stopping: threading.Event | None = None
    ) -> None:
        self.name = name
        self.generation = generation
        self.trust = ttl / 4
        self.stopping = stopping
        self.engine = db.engine  # check() runs in pool threads too, outside the app context
        self._confirmed = time.monotonic()  # the generation was just taken or renewed

    def held(self):
        """SQL: the lease row still has this generation and has not expired."""
        return and_(
            _table.c.name == self.name,
            _table.c.generation == self.generation,
            _table.c.expires_at > db_now(),
        )

    def confirm(self, session: Session) -> bool:
        """In the pass's transaction: a no-op UPDATE of the lease row, if it is still ours."""
        mine = update(_table).where(self.held()).values(generation=_table.c.generation)
        if session.execute(mine).rowcount != 1:
            return False
        self._confirmed = time.monotonic()
        return True

    def check(self) -> None:
        """Raise FencedOut when stopping or when the lease is no longer this generation's."""
        if self.stopping is not None and self.stopping.is_set():
            raise FencedOut("the scheduler is stopping")
        if time.monotonic() - self._confirmed < self.trust:
            return
        with self.engine.connect() as connection:
            if connection.scalar(select(_table.c.name).where(self.held())) is None:
                raise FencedOut("lost the scheduler lease")
        self._confirmed = time.monotonic()
