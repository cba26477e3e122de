"""/healthz (the process answers) and /readyz (database, migrations, shared store), apart."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app import create_app
from database import db
from tests.conftest import make_app
from tests.services import free_port  # nothing listens there once it returns


def test_it_is_ready_with_a_migrated_database(client):
    """Migrated to head, no shared store configured: 200 and each check says ok."""
    assert client.get("/healthz").json == {"ok": True}
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json == {"ready": True, "checks": {"database": "ok", "store": "ok"}}


@pytest.mark.sqlite_only
def test_it_stays_alive_but_not_ready_with_the_database_down(tmp_path):
    """A database that cannot be opened: /healthz 200 (no restart loop), /readyz 503 says why."""
    app = make_app(tmp_path)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    for name in ("test.sqlite", "test.sqlite-wal", "test.sqlite-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / "test.sqlite").mkdir()  # a directory where the file was: SQLite cannot open it
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json == {
        "ready": False,
        "reason": "database_unreachable",
        "checks": {"database": "database_unreachable"},
    }


def test_it_is_not_ready_while_the_database_server_does_not_answer(tmp_path):
    """A PostgreSQL URL where nothing listens: /healthz 200, /readyz 503 database_unreachable,
    and a page that needs the database says 503 with Retry-After, not 500."""
    app = make_app(tmp_path)
    down = create_app(
        {
            **app.config,
            "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://u@127.0.0.1:{free_port()}/x",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
        }
    )
    client = down.test_client()
    assert client.get("/healthz").status_code == 200
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json["reason"] == "database_unreachable"
    page = client.get("/status")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "database is not answering" in page.get_data(as_text=True)
    with down.app_context():
        db.session.remove()
        db.engine.dispose()


def test_it_is_not_ready_before_the_migrations_reach_head(app, client):
    """An older alembic_version (a deploy whose `flask setup` has not run yet): 503."""
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = '0009'"))
        db.session.commit()
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json["reason"]) == (503, "migrations_not_at_head")
    assert answer.json["checks"] == {"database": "migrations_not_at_head"}


def test_it_checks_the_shared_store_when_one_is_configured(tmp_path, redis_url):
    """REDIS_URL set: a live redis-server → ready; a closed port → 503 store_unreachable."""
    (tmp_path / "up").mkdir()
    (tmp_path / "down").mkdir()
    up = make_app(tmp_path / "up", REDIS_URL=redis_url)
    assert up.test_client().get("/readyz").json == {
        "ready": True,
        "checks": {"database": "ok", "store": "ok"},
    }
    down = make_app(tmp_path / "down", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    client = down.test_client()
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json["reason"]) == (503, "store_unreachable")
    assert client.get("/healthz").status_code == 200
