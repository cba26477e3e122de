"""The skeleton: config chain, secrets, database, security headers, CSRF, limits, errors, i18n."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from babel.messages.pofile import read_po
from cryptography.fernet import Fernet
from sqlalchemy import Float, column, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from app import create_app, engine_options
from blueprints.core.setup import setup_database
from blueprints.providers.models import Provider
from blueprints.status.models import Monitor
from database import SETUP_STEPS, db, round_float
from extensions import MissingSecrets
from tests.conftest import TEST_FERNET_KEY, make_app
from tests.databases import ON_SQLITE, database_uri

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ("zh_Hans_CN", "en")


def test_it_reads_config_from_instance_env_and_test_config(tmp_path, monkeypatch):
    """defaults → instance/config.py → RELAYDASH_* → test_config, later wins."""
    (tmp_path / "config.py").write_text("RESULT_CACHE_SECONDS = 11\nLOG_CACHE_SECONDS = 12\n")
    monkeypatch.setenv("RELAYDASH_INSTANCE", str(tmp_path))
    monkeypatch.setenv("RELAYDASH_LOG_CACHE_SECONDS", "13")
    monkeypatch.setenv("RELAYDASH_BATCH_MAX_KEYS", "14")
    app = create_app({"BATCH_MAX_KEYS": 15, "SECRET_KEY": "x"})
    assert app.instance_path == str(tmp_path)
    assert app.config["RELAY_READ_TIMEOUT"] == 10.0
    assert app.config["RESULT_CACHE_SECONDS"] == 11
    assert app.config["LOG_CACHE_SECONDS"] == 13
    assert app.config["BATCH_MAX_KEYS"] == 15


def test_it_keeps_the_sqlite_database_and_its_wal_owner_only(tmp_path, monkeypatch):
    """instance/ files are 0600, the database and its -wal/-shm too (even under umask 022)."""
    monkeypatch.setenv("RELAYDASH_INSTANCE", str(tmp_path))
    old = os.umask(0o022)
    try:
        app = create_app()
        with app.app_context():
            db.session.execute(text("CREATE TABLE t (x INTEGER)"))
            db.session.commit()
            files = sorted(tmp_path.glob("relaydash.sqlite*"))
            assert [f.name for f in files] == [
                "relaydash.sqlite",
                "relaydash.sqlite-shm",
                "relaydash.sqlite-wal",
            ]
            assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {
                f.name: 0o600 for f in files
            }
            db.session.remove()
            db.engine.dispose()
    finally:
        os.umask(old)


def test_it_creates_instance_owner_only(tmp_path, monkeypatch):
    """instance/ is created 0700 (even under umask 022), and an existing 0755 one is tightened."""
    fresh, checkout = tmp_path / "var" / "relaydash", tmp_path / "checkout"
    checkout.mkdir(mode=0o755)
    checkout.chmod(0o755)
    old = os.umask(0o022)
    try:
        for instance in (fresh, checkout):
            monkeypatch.setenv("RELAYDASH_INSTANCE", str(instance))
            create_app()
            assert stat.S_IMODE(instance.stat().st_mode) == 0o700
            assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_it_generates_a_secret_key_once_with_mode_0600(tmp_path, monkeypatch):
    """No SECRET_KEY configured → one is generated into instance/ and reused."""
    monkeypatch.setenv("RELAYDASH_INSTANCE", str(tmp_path))
    first = create_app()
    second = create_app()
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == path.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 40


SHARED_URL = "postgresql+psycopg://relaydash@127.0.0.1:1/relaydash"


def test_it_refuses_a_shared_database_without_the_secrets_from_the_environment(
    tmp_path, monkeypatch
):
    """A non-SQLite database and any shared secret missing: no start, the message says which,
    and nothing was generated into instance/."""
    monkeypatch.setenv("RELAYDASH_INSTANCE", str(tmp_path))
    monkeypatch.setenv("RELAYDASH_SQLALCHEMY_DATABASE_URI", SHARED_URL)
    monkeypatch.setenv("RELAYDASH_SECRET_KEY", "s" * 40)
    with pytest.raises(MissingSecrets) as refused:
        create_app()
    message = str(refused.value)
    assert "RELAYDASH_FERNET_KEYS" in message and "RELAYDASH_FINGERPRINT_SECRET" in message
    assert "RELAYDASH_SECRET_KEY" not in message
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv("RELAYDASH_FERNET_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("RELAYDASH_FINGERPRINT_SECRET", "f" * 40)
    app = create_app()  # all three set: it starts (the database is not touched yet)
    assert app.config["SECRET_KEY"] == "s" * 40
    assert not any(tmp_path.iterdir())


def test_it_still_generates_the_secrets_for_one_machine_with_sqlite(tmp_path, monkeypatch):
    """SQLite and nothing configured: secret_key, fernet_key, fingerprint_secret in instance/."""
    monkeypatch.setenv("RELAYDASH_INSTANCE", str(tmp_path))
    create_app()
    generated = {p.name for p in tmp_path.iterdir()}
    assert generated >= {"secret_key", "fernet_key", "fingerprint_secret"}


def test_two_machines_with_the_same_environment_share_ciphertext_and_fingerprints(
    tmp_path, monkeypatch
):
    """Two instance/ folders (two machines), the same RELAYDASH_* secrets: what one encrypts the
    other opens, and a key has one fingerprint everywhere (it is not "new" on the second)."""
    monkeypatch.setenv("RELAYDASH_FERNET_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("RELAYDASH_FINGERPRINT_SECRET", "shared-fingerprint-secret")
    monkeypatch.setenv("RELAYDASH_SECRET_KEY", "shared-secret-key")
    machines = []
    for name in ("one", "two"):
        monkeypatch.setenv("RELAYDASH_INSTANCE", str(tmp_path / name))
        machines.append(create_app())
    one, two = (m.extensions["vault"] for m in machines)
    assert two.decrypt(one.encrypt("sk-alice")) == "sk-alice"
    assert one.fingerprint("sk-alice") == two.fingerprint("sk-alice")
    assert not list(tmp_path.glob("*/fernet_key")) and not list(tmp_path.glob("*/fingerprint_*"))


@pytest.mark.sqlite_only
def test_it_uses_wal_busy_timeout_and_foreign_keys(app):
    """SQLite runs in WAL with a busy timeout and enforced foreign keys."""
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_it_sets_up_and_seeds_only_on_the_first_run(tmp_path):
    """`flask setup` migrates and seeds 聚合AI once; a removed seed stays removed."""
    env = {**os.environ, "RELAYDASH_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}"}
    env["RELAYDASH_INSTANCE"] = str(tmp_path)

    def flask(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    assert "seeded 1" in flask("setup")
    assert "聚合AI\thttps://api.juheai.top\tpublic\t3.5 CNY/USD" in flask("providers", "list")
    flask("providers", "remove", "聚合AI")
    assert "seeded" not in flask("setup")
    assert flask("providers", "list").strip() == ""


def test_it_runs_the_setup_steps_the_features_registered(tmp_path):
    """Every run: usage's stored day zones. The seeded provider is not monitored until an admin
    says so (a first run offline must not show an outage on /status)."""
    steps = {f"{step.__module__}.{step.__name__}": first for step, first in SETUP_STEPS.values()}
    assert steps == {"blueprints.usage.daily.sync_zones": False}
    seeds = [{"name": "seed", "base_url": "https://seed.example"}]
    app = make_app(tmp_path, DEFAULT_PROVIDERS=seeds)
    with app.app_context():
        assert db.session.scalars(select(Monitor)).all() == []
        assert db.session.scalar(select(func.count()).select_from(Provider)) == 1
    page = app.test_client().get("/status").get_data(as_text=True)
    assert "No provider is shown here yet." in page and "outage" not in page.lower()


def test_it_sends_security_headers_with_a_fresh_nonce(client):
    """CSP with a per-request nonce, no unsafe-eval, no framing, no sniffing, no referrer."""
    first = client.get("/")
    second = client.get("/")
    csp = first.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert nonce not in second.headers["Content-Security-Policy"]
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert first.headers["Referrer-Policy"] == "no-referrer"
    # Every script tag is external and carries the nonce; there is no inline script at all.
    html = first.get_data(as_text=True)
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag and f'nonce="{nonce}"' in tag
    assert "<script>" not in html


def test_it_serves_vendored_htmx_not_a_cdn(client):
    """htmx 2.0.x is served from static/, and no page references another host."""
    page = client.get("/").get_data(as_text=True)
    assert "/static/vendor/htmx-2.0.11.min.js" in page
    assert not re.search(r"""(src|href)=["']https?://""", page)
    with client.get("/static/vendor/htmx-2.0.11.min.js") as asset:
        assert asset.status_code == 200


def test_it_refuses_posts_without_a_csrf_token(tmp_path, fake):
    """With CSRF on, a form POST without the token is a 400 with a clear message."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/lookup", data={"provider": "x", "key": "sk-" + "a" * 48})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    ok = client.post("/lang", data={"lang": "en", "next": "/"}, headers={"X-CSRFToken": token})
    assert ok.status_code == 303


def test_it_rate_limits_public_endpoints(tmp_path):
    """Past the limit the public lookup answers 429, as JSON for the API."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOOKUP_RATE_LIMIT="2/minute")
    client = app.test_client()
    codes = [client.post("/api/v1/lookup", json={}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    body = client.post("/api/v1/lookup", json={}).get_json()
    assert body["error"]["code"] == "rate_limited"


@pytest.mark.parametrize("lang,text", [("zh_CN", "页面不存在"), ("en", "Page not found")])
def test_it_shows_error_pages_in_both_languages(client, lang, text):
    """404 is a page of ours in the chosen language, JSON under /api/."""
    client.set_cookie("lang", lang)
    response = client.get("/nope")
    assert response.status_code == 404
    assert text in response.get_data(as_text=True)
    api = client.get("/api/v1/nope")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_it_shows_a_500_page_without_a_stack_trace(app, client):
    """An unexpected exception becomes a plain 500 page."""

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail sk-" + "z" * 48)

    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "secret detail" not in body and "zzzz" not in body


@pytest.mark.parametrize(
    "header,expected",
    [("zh-CN,zh;q=0.9", "zh-CN"), ("zh-TW", "zh-CN"), ("en-US,en;q=0.8", "en"), ("fr", "en")],
)
def test_it_picks_the_language_from_the_browser(client, header, expected):
    """zh* browsers get zh-CN, everyone else English."""
    page = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
    assert f'<html lang="{expected}">' in page


def test_it_remembers_the_language_switch_in_a_cookie(client):
    """POST /lang sets a cookie that wins over the browser's language."""
    response = client.post("/lang", data={"lang": "zh_CN", "next": "/batch"})
    assert response.status_code == 303 and response.headers["Location"] == "/batch"
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    evil = client.post("/lang", data={"lang": "en", "next": "//evil.example/"})
    assert evil.headers["Location"] == "/"


def _catalog(lang: str):
    with open(ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle)


def test_it_has_a_complete_translation_for_every_message():
    """Every msgid in the sources has a non-fuzzy translation in zh_CN and en."""
    with open(ROOT / "translations" / "messages.pot", "rb") as handle:
        template = read_po(handle)
    wanted = {message.id for message in template if message.id}
    for lang in CATALOGS:
        catalog = _catalog(lang)
        missing = []
        for msgid in wanted:
            message = catalog.get(msgid)
            strings = message.string if message else None
            values = strings if isinstance(strings, tuple) else (strings,)
            if message is None or message.fuzzy or not all(values):
                missing.append(msgid)
        assert not missing, f"{lang} lacks {len(missing)}: {sorted(map(str, missing))[:5]}"


def test_it_keeps_the_message_template_in_step_with_the_sources(tmp_path):
    """Re-extracting finds no msgid that the committed .pot lacks (run `make i18n-update`)."""
    out = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "translations/babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
            "-o",
            str(out),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(out, "rb") as handle:
        fresh = {m.id for m in read_po(handle) if m.id}
    with open(ROOT / "translations" / "messages.pot", "rb") as handle:
        committed = {m.id for m in read_po(handle) if m.id}
    assert fresh - committed == set(), "run `make i18n-update` and translate"


def test_it_never_commits_anything_in_instance():
    """instance/ holds only its .gitignore in the repository."""
    ignore = (ROOT / "instance" / ".gitignore").read_text().split()
    assert ignore == ["*", "!.gitignore"]


def test_it_has_a_migration_for_every_model(app):
    """Alembic's autogenerate finds nothing the migrations miss (PostgreSQL later = a URL)."""
    with app.app_context(), db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_server_databases_ping_pooled_connections_sqlite_needs_none():
    pg = "postgresql+psycopg://u@db/relaydash"
    assert engine_options({"SQLALCHEMY_DATABASE_URI": pg}) == {"pool_pre_ping": True}
    assert engine_options({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.sqlite"}) == {}
    own = {"SQLALCHEMY_DATABASE_URI": pg, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False}}
    assert engine_options(own) == {"pool_pre_ping": False}


def test_round_float_is_portable_sql():
    query = select(round_float(func.sum(column("x", Float)), 9))
    assert "round(sum(x), ?)" in str(query.compile(dialect=sqlite.dialect()))
    pg = str(query.compile(dialect=postgresql.dialect()))
    assert "CAST(round(CAST(sum(x) AS NUMERIC)" in pg and "AS DOUBLE PRECISION)" in pg


def test_two_setups_at_once_upgrade_and_seed_once(tmp_path):
    """Two `flask setup` runs on a new PostgreSQL database: the advisory lock makes the second
    wait, find the schema at head and seed nothing (SQLite has no such lock)."""
    if ON_SQLITE:
        pytest.skip("PostgreSQL only: the advisory lock")
    seeds = [{"name": "seed", "base_url": "https://seed.example"}]
    secrets = {"SECRET_KEY": "x", "FERNET_KEYS": TEST_FERNET_KEY, "FINGERPRINT_SECRET": "y"}
    config = {"TESTING": True, **secrets, "DEFAULT_PROVIDERS": seeds}
    apps = [create_app({**config, "SQLALCHEMY_DATABASE_URI": database_uri(tmp_path)}) for _ in "ab"]
    go, seeded, errors = threading.Barrier(2), [], []

    def setup(app) -> None:
        with app.app_context():
            go.wait()
            try:
                seeded.append(setup_database())
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()
                db.engine.dispose()

    threads = [threading.Thread(target=setup, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(seeded) == [0, 1]
    with apps[0].app_context():
        assert db.session.scalar(select(func.count()).select_from(Provider)) == 1
        db.session.remove()
        db.engine.dispose()


def test_models_is_a_heading_and_a_count_apart_in_chinese(app):
    """ "Models" heads the status and playground sections (模型); as a column of counts it is
    模型数, through its own context — one translation no longer serves both."""
    from flask_babel import gettext, pgettext, refresh  # noqa: PLC0415

    with app.test_request_context("/", headers={"Cookie": "lang=zh_CN"}):
        refresh()
        assert gettext("Models") == "模型"
        assert pgettext("count", "Models") == "模型数"
