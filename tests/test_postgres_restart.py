"""PostgreSQL goes away for 10 s under `gunicorn -w 2` (deploy/gunicorn.conf.py): while it is
down, pages say 503 (never a 500) and /healthz stays up; once it is back, no request fails, since
pooled connections are tested before use (pool_pre_ping). A server of our own, so stopping it
disturbs no other test; on the PostgreSQL run (RELAYDASH_TEST_DATABASE_URL) only."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app import create_app
from blueprints.auth.service import create_user
from blueprints.core.setup import setup_database
from blueprints.providers.service import add_provider
from database import db
from tests.conftest import PASSWORD
from tests.databases import ON_SQLITE
from tests.services import Postgres, fresh, gunicorn

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    ON_SQLITE, reason="on the PostgreSQL run (RELAYDASH_TEST_DATABASE_URL): a server of our own"
)


@pytest.fixture
def server():
    """A PostgreSQL server of this test's own."""
    postgres = Postgres()
    postgres.start()
    yield postgres
    postgres.remove()


def test_no_request_fails_after_postgresql_restarts(server, tmp_path, fake):
    settings = {
        "SQLALCHEMY_DATABASE_URI": server.url,
        "SECRET_KEY": "restart-secret",
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "FINGERPRINT_SECRET": "restart-fingerprint",
        "DEFAULT_PROVIDERS": [],
        "ALLOW_PRIVATE_PROVIDERS": True,
        "SESSION_COOKIE_SECURE": False,
        "WTF_CSRF_ENABLED": False,
        "RELAY_CONNECT_TIMEOUT": 1.0,
        "RELAY_READ_TIMEOUT": 2.0,
    }
    app = create_app({**settings, "TESTING": True})
    with app.app_context():
        setup_database()
        create_user("alice", PASSWORD)
        add_provider("fake", fake.url)
        db.session.remove()
        db.engine.dispose()
    env = {**os.environ, "RELAYDASH_INSTANCE": str(tmp_path / "instance")}
    env.update({f"RELAYDASH_{k}": json.dumps(v) for k, v in settings.items()})
    process, url = gunicorn(env, workers=2, root=ROOT)
    try:
        login = fresh("POST", url + "/login", data={"username": "alice", "password": PASSWORD})
        cookies = login.history[0].cookies.get_dict() if login.history else {}
        assert cookies, login.status_code
        token = fake.add_token()

        def round_of_requests() -> list[tuple[str, int]]:
            """What a visitor, a member and the load balancer ask: (what, status)."""
            return [
                ("readyz", fresh("GET", url + "/readyz").status_code),
                ("status", fresh("GET", url + "/status").status_code),
                ("status.json", fresh("GET", url + "/status.json").status_code),
                ("keys", fresh("GET", url + "/keys", cookies=cookies).status_code),
                (
                    "lookup",
                    fresh(
                        "POST",
                        url + "/api/v1/lookup",
                        json={"provider": "fake", "key": token.key},
                    ).status_code,
                ),
            ]

        for _ in range(3):  # every worker has pooled connections to the server
            assert all(status == 200 for _what, status in round_of_requests())

        # Down for 10 s while nobody asks for a page: every pooled connection goes stale.
        server.stop("fast")
        for _ in range(10):
            assert fresh("GET", url + "/healthz").status_code == 200  # the process is alive
            time.sleep(1)
        server.start()
        after = [result for _ in range(6) for result in round_of_requests()]
        assert all(status == 200 for _what, status in after), after

        # Down again, this time with visitors: they get 503 with Retry-After, never a 500.
        server.stop("fast")
        assert fresh("GET", url + "/readyz").status_code == 503
        during = [fresh("GET", url + path, cookies=cookies) for path in ("/status", "/keys")]
        assert [answer.status_code for answer in during] == [503, 503]
        assert all(answer.headers.get("Retry-After") == "5" for answer in during)
        assert "database is not answering" in during[0].text
        assert fresh("GET", url + "/login").status_code == 200  # needs no database
        server.start()
        after = [result for _ in range(4) for result in round_of_requests()]
        assert all(status == 200 for _what, status in after), after
    finally:
        process.terminate()
        process.wait(30)
