"""Shared fixtures: a real app on a temp SQLite file, fake relays on real sockets, a live server."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import relay
from app import create_app
from blueprints.auth.service import create_user
from blueprints.core.setup import setup_database
from blueprints.lookup.batch import TABLES
from blueprints.lookup.service import LOGS, RESULTS
from blueprints.playground.catalog import MODELS
from blueprints.playground.runs import RUNS
from blueprints.providers.service import add_provider
from blueprints.status.board import PAST_BARS
from blueprints.status.pages import FEEDS
from database import db
from relay import guard
from tests.fakerelay import FakeRelay

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)


def pytest_collection_modifyitems(config, items):
    """Skip browser tests loudly when Chromium is missing (CI sets RELAYDASH_REQUIRE_BROWSER)."""
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
    for cache in (
        RESULTS,
        LOGS,
        TABLES,
        relay.STATUS_CACHE,
        relay.FAMILY_CACHE,
        relay.BUDGETS,
        MODELS,
        RUNS,
        FEEDS,
        PAST_BARS,
    ):
        cache.clear()
    yield
    RUNS.clear()  # stops any stream a test left running


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


def make_app(tmp_path: Path, **overrides):
    """A real app on a temp SQLite file with migrations applied, nothing seeded."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite'}",
        "DEFAULT_PROVIDERS": [],
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "RELAY_CONNECT_TIMEOUT": 1.0,
        "RELAY_READ_TIMEOUT": 1.0,
        "FIRST_POLL": "inline",
        # the fake relays listen on 127.0.0.1 (tests/test_guard.py turns this off)
        "ALLOW_PRIVATE_PROVIDERS": True,
        "SESSION_COOKIE_SECURE": False,  # served over http, like `make run`
        **overrides,
    }
    app = create_app(config)
    with app.app_context():
        setup_database()
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
