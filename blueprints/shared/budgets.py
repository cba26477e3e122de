"""Relay request budgets shared by every process: the SharedWindows that relay/budget.py calls.

Redis when REDIS_URL is set (a sorted set per window, one Lua script), else the database: one row
per call a window allows (`relay_budget_slot`), each free again `seconds` after its call. Taking
calls is one UPDATE of free slots in one transaction, so no two processes take the same slot and
a relay never sees more than its limit in any `seconds` from all of us together. Both judge time
by the store's clock, never a process's.

On SQLite the slots live in the side file beside the database (store.counters_url): a pass that
has written a row and then reserves a call would otherwise wait for its own lock. SQLite is one
machine's, so the processes sharing it share that file too. PostgreSQL keeps them in the
application's database (the migration's table).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import Engine, String, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import CreateTable

import relay
from database import db, db_now, utcnow

from .store import counters_engine, counters_url, redis_client

log = logging.getLogger(__name__)

FAILED_WAIT = 5.0  # the store did not answer: hold calls back this long (never call blind)
RETRIES = 5  # another process took the slots we aimed at (PostgreSQL): look again


class BudgetSlot(db.Model):
    """One call a relay budget window allows; taken until `free_at` (the database's clock)."""

    __tablename__ = "relay_budget_slot"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    slot: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    free_at: Mapped[datetime] = mapped_column()


_table = BudgetSlot.__table__


def _row_name(name: str) -> str:
    """`critical https://relay…` → `critical:<sha256 of the URL, 64 hex>` (fits any URL)."""
    group, _, url = name.partition(" ")
    return f"{group}:{hashlib.sha256(url.encode()).hexdigest()}"[:80]


class _Refused(Exception):
    def __init__(self, name: str, cap: int):
        self.name, self.cap = name, cap


class DatabaseWindows:
    """Slots in a database (SQLite or PostgreSQL), see store.counters_url()."""

    def __init__(self, engine: Engine, *, create: bool = False):
        self.engine = engine
        self._create = create  # the SQLite file beside the database: made on first use
        self._slots: dict[str, int] = {}  # slots known to exist per window name
        self._lock = threading.Lock()

    def _prepare(self) -> None:
        if self._create:
            # IF NOT EXISTS: processes starting together may all get here first.
            with self.engine.begin() as connection:
                connection.execute(CreateTable(_table, if_not_exists=True))
            self._create = False

    def clear(self) -> None:
        """Free every slot (tests and benches; Budgets.clear)."""
        self._prepare()
        with self.engine.begin() as connection:
            connection.execute(delete(_table))
        with self._lock:
            self._slots.clear()

    def take(self, wanted: list[tuple[str, int, int, float]]) -> float:
        rows = [(_row_name(name), calls, cap, seconds) for name, calls, cap, seconds in wanted]
        try:
            self._prepare()
            for name, _calls, cap, _seconds in rows:
                self._ensure(name, cap)
            for _attempt in range(RETRIES):
                try:
                    with self.engine.begin() as connection:  # all windows or none
                        for name, calls, cap, seconds in rows:
                            if _take(connection, name, calls, cap, seconds) < calls:
                                raise _Refused(name, cap)
                    return 0.0
                except _Refused as refused:
                    wait = self._wait(refused.name, refused.cap)
                    if wait > 0:
                        return wait
            return 0.05
        except Exception:
            log.warning("relay budgets: the database did not answer; holding calls back")
            return FAILED_WAIT

    def hold(self, name: str, limit: int, seconds: float, hold: float) -> None:
        """Take every slot of the window until `hold` seconds from now (a relay's 429)."""
        name = _row_name(name)
        try:
            self._prepare()
            self._ensure(name, limit)
            with self.engine.begin() as connection:
                connection.execute(
                    update(_table)
                    .where(
                        _table.c.name == name,
                        _table.c.slot < limit,
                        _table.c.free_at < db_now(hold),
                    )
                    .values(free_at=db_now(hold))
                )
        except Exception:
            log.warning("relay budgets: the database did not answer; the hold stays local")

    def _ensure(self, name: str, cap: int) -> None:
        """Slots 0 … cap-1 exist (made on first use; a raised limit adds the missing ones)."""
        with self._lock:
            if self._slots.get(name, 0) >= cap:
                return
        with self.engine.begin() as connection:
            have = set(connection.scalars(select(_table.c.slot).where(_table.c.name == name)))
        missing = [n for n in range(cap) if n not in have]
        if missing:
            epoch = datetime(2000, 1, 1, tzinfo=UTC)
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        insert(_table),
                        [{"name": name, "slot": n, "free_at": epoch} for n in missing],
                    )
            except IntegrityError:
                pass  # another process made them first
        with self._lock:
            self._slots[name] = max(self._slots.get(name, 0), cap)

    def _wait(self, name: str, cap: int) -> float:
        """Seconds until the next of the window's slots frees (0: one is free, look again)."""
        with self.engine.begin() as connection:
            soonest = connection.scalar(
                select(func.min(_table.c.free_at)).where(_table.c.name == name, _table.c.slot < cap)
            )
        if soonest is None:
            return 0.0
        return max(0.0, (soonest - utcnow()).total_seconds())


def _take(connection, name: str, calls: int, cap: int, seconds: float) -> int:
    """Take `calls` free slots below `cap` in one statement; how many it took."""
    free = (_table.c.name == name) & (_table.c.slot < cap) & (_table.c.free_at <= db_now())
    chosen = select(_table.c.slot).where(free).order_by(_table.c.slot).limit(calls)
    return connection.execute(
        update(_table)
        .where(free, _table.c.slot.in_(chosen.scalar_subquery()))
        .values(free_at=db_now(seconds))
    ).rowcount


# KEYS: one sorted set per window. ARGV: calls, cap, seconds for each, in order. Members are
# unique call ids scored by Redis's own clock; all windows are checked before any is written.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local wait = 0
for i, key in ipairs(KEYS) do
  local calls, cap, seconds = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - seconds)
  local used = redis.call('ZCARD', key)
  if used + calls > cap then
    local index = used + calls - cap - 1
    if index < 0 or calls > cap then return '-1' end
    local oldest = redis.call('ZRANGE', key, index, index, 'WITHSCORES')
    local left = tonumber(oldest[2]) + seconds - now
    if left > wait then wait = left end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local calls, seconds = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i])
  for _ = 1, calls do
    redis.call('ZADD', key, now, redis.call('INCR', key .. ':seq'))
  end
  redis.call('EXPIRE', key, math.ceil(seconds) + 1)
  redis.call('EXPIRE', key .. ':seq', math.ceil(seconds) + 1)
end
return '0'
"""


# A hold: `limit` calls dated so that they leave the window `hold` seconds from now.
_HOLD = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local limit, seconds, hold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for _ = 1, limit do
  redis.call('ZADD', KEYS[1], now + hold - seconds, redis.call('INCR', KEYS[1] .. ':seq'))
end
local ttl = math.ceil(math.max(hold, seconds)) + 1
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[1] .. ':seq', ttl)
return 0
"""


class RedisWindows:
    """Sorted sets in Redis (REDIS_URL)."""

    def __init__(self, client):
        self._client = client
        self._script = client.register_script(_TAKE)
        self._hold = client.register_script(_HOLD)

    def hold(self, name: str, limit: int, seconds: float, hold: float) -> None:
        """Fill the window with calls that leave it `hold` seconds from now (a relay's 429)."""
        try:
            self._hold(keys=["relaydash:budget:" + _row_name(name)], args=[limit, seconds, hold])
        except Exception:
            log.warning("relay budgets: Redis did not answer; the hold stays local")

    def clear(self) -> None:
        """Forget every window (tests and benches; Budgets.clear)."""
        for key in self._client.scan_iter("relaydash:budget:*"):
            self._client.delete(key)

    def take(self, wanted: list[tuple[str, int, int, float]]) -> float:
        keys = ["relaydash:budget:" + _row_name(name) for name, *_ in wanted]
        args = [value for _name, *numbers in wanted for value in numbers]
        try:
            wait = float(self._script(keys=keys, args=args))
        except Exception:
            log.warning("relay budgets: Redis did not answer; holding calls back")
            return FAILED_WAIT
        return float("inf") if wait < 0 else wait


def init_app(app: Flask) -> None:
    """Point relay's budgets at this app's shared store."""
    with app.app_context():
        client = redis_client()
    if client is not None:
        relay.BUDGETS.shared = RedisWindows(client)
        return
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        relay.BUDGETS.shared = DatabaseWindows(engine)
        return
    # db.engine's URL, not the config's: Flask-SQLAlchemy made a relative path absolute under
    # instance/, so the side file lands beside the database, not in the working directory.
    side = counters_url(engine.url)
    relay.BUDGETS.shared = DatabaseWindows(counters_engine(side), create=True) if side else None
