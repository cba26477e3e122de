"""Flask-Limiter's storage in the database (blueprints/shared/counters.py): fixed windows that
every process counts in together, judged by the database's clock."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from blueprints.shared.counters import SCHEME, DatabaseStorage
from extensions import limiter
from tests.conftest import make_app


def _storage(app) -> DatabaseStorage:
    """A second storage on the app's counters, as another worker would have."""
    return storage_from_string(app.config["RATELIMIT_STORAGE_URI"])


def test_the_app_counts_rate_limits_in_the_database_without_redis(tmp_path):
    """No REDIS_URL and no RATELIMIT_STORAGE_URI: the limiter uses the database storage."""
    app = make_app(tmp_path, REDIS_URL="", RATELIMIT_STORAGE_URI="", RATELIMIT_ENABLED=True)
    assert app.config["RATELIMIT_STORAGE_URI"].startswith(f"{SCHEME}:")
    assert isinstance(limiter.storage, DatabaseStorage)


def test_a_fixed_window_counts_hits_from_many_threads_exactly(tmp_path):
    """Eight threads with their own storages hit a 10-per-minute limit 5 times each: exactly 10
    hits pass; the window's end is a minute away; clear() forgets it."""
    app = make_app(tmp_path, REDIS_URL="", RATELIMIT_STORAGE_URI="")
    item = parse("10/minute")
    passed: list[bool] = []

    def hit() -> None:
        with app.app_context():  # (on PostgreSQL the storage uses the app's engine)
            limiter_ = FixedWindowRateLimiter(_storage(app))
            for _ in range(5):
                passed.append(limiter_.hit(item, "client-a"))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert passed.count(True) == 10 and len(passed) == 40
    with app.app_context():
        _one_window(app, item)


def _one_window(app, item) -> None:
    storage = _storage(app)
    strategy = FixedWindowRateLimiter(storage)
    assert not strategy.test(item, "client-a")
    assert strategy.test(item, "client-b")  # another client has its own window
    reset, remaining = strategy.get_window_stats(item, "client-a")
    assert remaining == 0 and 50 < reset - time.time() <= 61
    storage.clear(item.key_for("client-a"))
    assert strategy.hit(item, "client-a")
    assert storage.check()


def test_a_window_that_ended_starts_again(tmp_path):
    """A 2-per-second limit: two pass, the third waits, after the second a new window opens."""
    app = make_app(tmp_path, REDIS_URL="", RATELIMIT_STORAGE_URI="")
    with app.app_context():
        _window_ends(app)


def _window_ends(app) -> None:
    strategy = FixedWindowRateLimiter(_storage(app))
    item = parse("2/second")
    assert [strategy.hit(item, "c") for _ in range(3)] == [True, True, False]
    time.sleep(1.1)
    assert strategy.hit(item, "c")
    very_long = "x" * 500  # keys past the column's 200 characters are hashed
    assert strategy.hit(item, very_long) and strategy.hit(item, very_long)
    assert not strategy.hit(item, very_long)
