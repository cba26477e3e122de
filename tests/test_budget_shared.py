"""Relay request budgets counted across processes: the database's slots and Redis, each hammered
by real processes at once, and lookups through two web workers against one fake relay."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import make_url

import relay
from blueprints.providers.service import add_provider
from blueprints.shared.budgets import DatabaseWindows, RedisWindows
from blueprints.shared.store import counters_engine, counters_url

ROOT = Path(__file__).resolve().parent.parent

# Each process tries for `seconds` to take one call at a time from a 10-call, 60 s window (and,
# half of the time, two calls at once from it and a second window), then prints what it took.
HAMMER = """
import sys, time
import database  # the SQLite pragmas (WAL, busy timeout)
from sqlalchemy import make_url
from blueprints.shared.budgets import DatabaseWindows, RedisWindows
from blueprints.shared.store import counters_engine, counters_url
kind, where, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
RELAY = "http://relay.test"
if kind == "db":
    # as the app does: the side file beside a SQLite database
    store = DatabaseWindows(counters_engine(counters_url(make_url(where))), create=True)
else:
    import redis
    store = RedisWindows(redis.Redis.from_url(where))
taken, deadline, n = 0, time.monotonic() + seconds, 0
while time.monotonic() < deadline:
    n += 1
    if n % 2:
        wanted = [("global " + RELAY, 1, 10, 60.0)]
        taken += store.take(wanted) == 0 and 1
    else:
        wanted = [("global " + RELAY, 2, 10, 60.0), ("critical " + RELAY, 2, 18, 60.0)]
        taken += store.take(wanted) == 0 and 2
print(taken, n)
"""


CLOSE: list = []  # what a test opened for its stores: closed after it (no connection left open)


@pytest.fixture(autouse=True)
def _close_stores():
    yield
    while CLOSE:
        CLOSE.pop()()


def _slots(url: str):
    """The engine the app counts in for this database (the side file on SQLite)."""
    engine = counters_engine(counters_url(make_url(url)))
    CLOSE.append(engine.dispose)
    return engine


def _hammer(kind: str, where: str, processes: int = 2, seconds: float = 3.0) -> list[int]:
    running = [
        subprocess.Popen(
            [sys.executable, "-c", HAMMER, kind, where, str(seconds)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    for process in running:
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        taken, tries = map(int, out.split())
        assert tries > 10  # each process really competed
        results.append(taken)
    return results


def test_two_processes_never_exceed_a_10_call_budget_on_one_sqlite_file(app):
    """Two processes, one SQLite file, 3 s of trying: exactly 10 calls taken between them."""
    taken = _hammer("db", app.config["SQLALCHEMY_DATABASE_URI"])
    assert sum(taken) == 10


def test_two_processes_never_exceed_a_10_call_budget_in_redis(redis_url):
    """The same through Redis (its Lua script is the one atomic step)."""
    client = redis.Redis.from_url(redis_url)
    CLOSE.append(client.close)
    client.flushdb()
    assert sum(_hammer("redis", redis_url)) == 10


def test_threads_with_their_own_connections_share_the_slots(app):
    """Eight threads with their own engines on the file: 10 between them, background keeps a
    share for people (a cap of 7 of 10), and a freed slot can be taken again."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    stores = [DatabaseWindows(_slots(url), create=True) for _ in range(8)]
    taken: list[int] = []

    def grab(store: DatabaseWindows) -> None:
        for _ in range(5):
            taken.append(store.take([("global http://t.test", 1, 10, 60.0)]) == 0)

    threads = [threading.Thread(target=grab, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(taken) == 10
    wait = stores[0].take([("global http://t.test", 1, 10, 60.0)])
    assert 55 < wait <= 60
    background = [stores[1].take([("global http://b.test", 1, 7, 60.0)]) == 0 for _ in range(9)]
    assert sum(background) == 7
    assert stores[2].take([("global http://b.test", 3, 10, 60.0)]) == 0  # people's share is there
    short = [stores[3].take([("global http://s.test", 1, 1, 0.3)]) == 0 for _ in range(2)]
    assert short == [True, False]
    __import__("time").sleep(0.4)
    assert stores[3].take([("global http://s.test", 1, 1, 0.3)]) == 0


def test_a_relay_never_sees_more_than_its_budget_from_two_workers(app, workers, fake):
    """A provider with a 10/60 s budget; lookups of fresh keys through two web processes at
    once: the relay gets at most 10 budgeted calls from us all (4 workers made 32 before), and
    lookups past it say the budget is used up instead of calling."""
    with app.app_context():
        add_provider("fake", fake.url, budget=(10, 60))
    urls = workers(2)
    keys = [fake.add_token().key for _ in range(16)]
    answers: list[int] = []

    def look(url: str, key: str) -> None:
        body = {"provider": "fake", "key": key}
        answer = requests.post(url + "/api/v1/lookup", json=body, timeout=20)
        answers.append((answer.status_code, answer.text))

    threads = [threading.Thread(target=look, args=(urls[i % 2], key)) for i, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    budgeted = [r for r in fake.requests if relay.budget.group_of(r.path.split("?")[0])]
    assert 0 < len(budgeted) <= 10
    assert len(answers) == 16
    assert any('"budget"' in text for _status, text in answers)  # told to wait, nothing sent


@pytest.mark.parametrize("store", ["database", "redis"])
def test_a_429_seen_by_one_process_holds_every_other_back(app, store, request):
    """Two Budgets (two processes' worth), one shared store: after one hears a 429 with
    Retry-After 30, the other does not call that window either, and other relays are free."""
    if store == "redis":
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        CLOSE.append(client.close)
        client.flushdb()
        shared = [RedisWindows(client), RedisWindows(client)]
    else:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        shared = [
            DatabaseWindows(_slots(url), create=True),
            DatabaseWindows(_slots(url), create=True),
        ]
    one, two = relay.budget.Budgets(), relay.budget.Budgets()
    one.shared, two.shared = shared
    base = "http://held.test"
    assert one.spend(base, "/api/usage/token/") == 0
    assert one.hit_limit(base, "/api/usage/token/", retry_after=30.0) == 30.0
    assert 25 < two.spend(base, "/api/log/token") <= 30  # the same window: held
    assert two.spend(base, "/api/status") == 0  # the global window is not
    assert two.spend("http://other.test", "/api/usage/token/") == 0


@pytest.mark.parametrize("store", ["database", "redis"])
def test_the_app_counts_in_its_shared_store(tmp_path, store, request):
    """REDIS_URL set → Redis, else the database: the app wires relay's budgets to it."""
    from tests.conftest import make_app  # noqa: PLC0415

    redis_url = request.getfixturevalue("redis_url") if store == "redis" else ""
    extra = {"REDIS_URL": redis_url}  # (empty: the database, also in the Redis test run)
    make_app(tmp_path, **extra)
    kind = type(relay.BUDGETS.shared).__name__
    assert kind == ("RedisWindows" if store == "redis" else "DatabaseWindows")
