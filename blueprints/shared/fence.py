"""Fenced writes: a scheduler pass commits only while it still holds the scheduler lease.

A pass runs inside `fenced(fence)`. Every commit of its session then first asks the fence, in the
same transaction as the pass's rows, whether the pass's lease generation is still the holder's
(`Fence.confirm`); when it is not, the transaction is thrown away and FencedOut raised, which ends
the pass. Before calling a relay a pass asks `check()` (from pool threads: the callable `guard()`
returns), so a pass that lost the lease, or whose process is stopping, spends no more relay calls.
Outside a pass both are no-ops: web requests and tests write as before. The lease and its fence
are the scheduler's (blueprints/scheduler/lease.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from database import db

_KEY = "fence"  # in Session.info: the fence of the pass this session belongs to


class FencedOut(BaseException):
    """The pass lost its lease (or its process is stopping): it stops and writes nothing more.

    A BaseException, like KeyboardInterrupt: the `except Exception` guards inside a pass (one odd
    key must not stop the others) must not swallow it.
    """


class Fence(Protocol):
    def confirm(self, session: Session) -> bool:
        """In the session's open transaction: is the pass's generation still the holder's?"""

    def check(self) -> None:
        """Raise FencedOut unless the pass may go on calling relays (any thread)."""


@contextmanager
def fenced(fence: Fence) -> Iterator[Fence]:
    """Run a pass under `fence`: from here on every commit of db.session is fenced."""
    session = db.session()
    session.info[_KEY] = fence
    try:
        yield fence
    finally:
        session.info.pop(_KEY, None)


def guard() -> Callable[[], None]:
    """The running pass's check, for threads without the app context; a no-op outside a pass."""
    fence = db.session().info.get(_KEY)
    return fence.check if fence is not None else _unfenced


def check() -> None:
    """Before a relay call in a pass: raise FencedOut once the pass may not go on."""
    guard()()


def _unfenced() -> None:
    pass


@event.listens_for(Session, "before_commit")
def _confirm(session: Session) -> None:
    fence = session.info.get(_KEY)
    if fence is None:
        return
    with session.no_autoflush:  # the check first; the pass's rows are flushed after it
        held = fence.confirm(session)
    if not held:
        # Rows flushed earlier in this transaction may hold SQLite's write lock until the pass
        # unwinds (which waits for its relay calls); closing the connection ends it now.
        session.connection().invalidate()
        raise FencedOut("lost the scheduler lease")
