"""Shared fixtures: a real app on a temp database, fake relays on real sockets, a live server.

The database is a temp SQLite file, or with RELAYDASH_TEST_DATABASE_URL (a PostgreSQL URL,
e.g. postgresql+psycopg://postgres@127.0.0.1:55432/postgres, whose user may create databases)
a database of its own per test folder, created empty and dropped after the test (a
module-scoped fixture's: at the end, see keep_database). RELAYDASH_TEST_REDIS_URL puts the rate
limiter on Redis (tests/databases.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

import relay
from app import create_app
from blueprints.auth.service import create_user
from blueprints.core.setup import setup_database
from blueprints.lookup.service import LOGS, RESULTS
from blueprints.playground.catalog import MODELS
from blueprints.playground.runs import RUNS
from blueprints.providers.service import add_provider
from blueprints.shared.budgets import DatabaseWindows
from blueprints.status.board import PAST_BARS
from blueprints.status.pages import FEEDS
from database import db
from relay import guard
from tests import services
from tests.databases import (
    APPS,
    ON_SQLITE,
    TEST_REDIS_URL,
    database_uri,
    drop_databases,
    flush_redis,
)
from tests.fakerelay import FakeRelay

CHROMIUM = "/usr/bin/chromium"
# Shared secrets from the config, as on a shared database (extensions.require_shared_secrets).
TEST_FERNET_KEY = "cmVsYXlkYXNoIHRlc3RzIG9ubHksIG5vdCBhIGtleSE="
HAVE_CHROMIUM = os.path.exists(CHROMIUM)


def pytest_collection_modifyitems(config, items):
    """Skip SQLite-only tests on another database; skip browser tests loudly when Chromium is
    missing (CI sets RELAYDASH_REQUIRE_BROWSER)."""
    if not ON_SQLITE:
        only = pytest.mark.skip(reason="sqlite_only: about the SQLite file itself")
        for item in items:
            if "sqlite_only" in item.keywords:
                item.add_marker(only)
    if HAVE_CHROMIUM:
        return
    if os.environ.get("RELAYDASH_REQUIRE_BROWSER"):
        raise pytest.UsageError(f"{CHROMIUM} is missing but RELAYDASH_REQUIRE_BROWSER is set")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} missing: apt-get install -y chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    """Every test starts with empty in-memory caches, relay budgets and playground runs.

    Relay calls may reach 127.0.0.1, where the fake relays listen (make_app says so too);
    tests of the address guard turn that off themselves.
    """
    guard.PROVIDERS.allowed = True
    if isinstance(relay.BUDGETS.shared, DatabaseWindows):
        relay.BUDGETS.shared.engine.dispose()  # the last test's slots file
    relay.BUDGETS.shared = None  # the test's app points it at its own database
    for cache in (
        RESULTS,
        LOGS,
        relay.STATUS_CACHE,
        relay.FAMILY_CACHE,
        relay.BUDGETS,
        MODELS,
        RUNS,
        FEEDS,
        PAST_BARS,
    ):
        cache.clear()
    flush_redis()
    yield
    RUNS.clear()  # stops any stream a test left running


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server of our own on a free port (no persistence), for the shared store."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server missing: apt-get install -y redis-server")
    with services.redis() as url:
        yield url


@pytest.fixture
def relays() -> Iterator[Callable[..., FakeRelay]]:
    """Start fake relays on demand (flavor, **options); all are stopped afterwards."""
    started: list[FakeRelay] = []

    def start(flavor: str = "new-api-2026", **options) -> FakeRelay:
        options.setdefault("fault_sleep", 2.0)
        fake = FakeRelay(flavor, **options).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


@pytest.fixture
def fake(relays) -> FakeRelay:
    """One new-api 2026 relay (the most common case)."""
    return relays("new-api-2026")


@pytest.fixture(autouse=True, scope="session")
def _drop_all_databases() -> Iterator[None]:
    """Whatever a module-scoped fixture kept goes at the end."""
    yield
    if not ON_SQLITE:
        drop_databases(kept=True)


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """After each test its apps' pooled connections are closed and its databases dropped."""
    yield
    while APPS:
        with APPS.pop().app_context():
            db.engine.dispose()
    if not ON_SQLITE:
        drop_databases()


def make_app(tmp_path: Path, **overrides):
    """A real app on the folder's test database with migrations applied, nothing seeded."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "FERNET_KEYS": TEST_FERNET_KEY,
        "FINGERPRINT_SECRET": "test-fingerprint-secret",
        "SQLALCHEMY_DATABASE_URI": database_uri(tmp_path),
        "DEFAULT_PROVIDERS": [],
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "RELAY_CONNECT_TIMEOUT": 1.0,
        "RELAY_READ_TIMEOUT": 1.0,
        "FIRST_POLL": "inline",
        # the fake relays listen on 127.0.0.1 (tests/test_guard.py turns this off)
        "ALLOW_PRIVATE_PROVIDERS": True,
        "SESSION_COOKIE_SECURE": False,  # served over http, like `make run`
        # With Redis: the limiter's counters and the shared store (relay budgets) live there.
        **({"RATELIMIT_STORAGE_URI": TEST_REDIS_URL} if TEST_REDIS_URL else {}),
        **({"REDIS_URL": TEST_REDIS_URL} if TEST_REDIS_URL else {}),
        **overrides,
    }
    app = create_app(config)
    with app.app_context():
        setup_database()
    APPS.append(app)
    return app


@pytest.fixture
def app(tmp_path):
    """The app under test."""
    app = make_app(tmp_path)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def provider(app, fake):
    """A public provider named 'fake' pointing at the fake relay."""
    with app.app_context():
        add_provider("fake", fake.url + "/v1", cny_rate=3.5)
    return "fake"


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app served on a real port in a thread, for the browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def worker_env(app, instance: Path, **overrides) -> dict[str, str]:
    """The environment of a web process on the app's database (its own instance/, the same
    secrets), as the README's several-workers set-up gives every process."""
    config = {
        **{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "FERNET_KEYS")},
        "FINGERPRINT_SECRET": app.config["FINGERPRINT_SECRET"],
        # the limiter follows REDIS_URL, else counts in the database, like the app's
        **({"REDIS_URL": app.config["REDIS_URL"]} if app.config.get("REDIS_URL") else {}),
        "DEFAULT_PROVIDERS": [],
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "ALLOW_PRIVATE_PROVIDERS": True,
        "SESSION_COOKIE_SECURE": False,
        "RELAY_CONNECT_TIMEOUT": 1.0,
        "RELAY_READ_TIMEOUT": 1.0,
        **overrides,
    }
    env = {**os.environ, "RELAYDASH_INSTANCE": str(instance)}
    env.update({f"RELAYDASH_{k}": json.dumps(v) for k, v in config.items()})
    return env


def wait_for(url: str, seconds: float = 20, **options) -> None:
    """Until `url` answers 200 (a server starting), else RuntimeError."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url, timeout=1, **options).ok:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer")
        time.sleep(0.1)


@pytest.fixture
def workers(app, tmp_path) -> Iterator[Callable[..., list[str]]]:
    """Start n web processes on the app's database (worker_env), like workers behind a load
    balancer; returns their base URLs. All are stopped afterwards."""
    started: list[subprocess.Popen] = []
    root = Path(__file__).resolve().parent.parent

    def start(n: int = 2, **overrides) -> list[str]:
        urls = []
        for _ in range(n):
            port = services.free_port()
            env = worker_env(app, tmp_path / f"instance-{port}", **overrides)
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
                    cwd=root,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_for(url + "/healthz")
        return urls

    yield start
    for process in started:
        process.terminate()
    for process in started:
        process.wait(10)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded browser."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def problems(page) -> list[str]:
    """Console errors, page errors and CSP violations, from every page a browser test opens."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    page.expose_function("reportViolation", lambda text: found.append("CSP: " + text))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " window.reportViolation(e.violatedDirective + ' ' + e.blockedURI); });"
    )
    return found


PASSWORD = "correct horse battery"


@pytest.fixture
def make_user(app):
    """Create users: make_user("alice", admin=False) → the username (password is PASSWORD)."""

    def make(name: str = "alice", *, admin: bool = False, password: str = PASSWORD) -> str:
        with app.app_context():
            create_user(name, password, admin=admin)
        return name

    return make


def login(client, username: str, password: str = PASSWORD):
    """Log in through the real form."""
    return client.post("/login", data={"username": username, "password": password})
