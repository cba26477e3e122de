"""relaydash: the application factory, the extension objects and the CLI."""

from __future__ import annotations

import os
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from flask_babel import Babel
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, registry

ROOT = Path(__file__).resolve().parent


def utcnow() -> datetime:
    """Timezone-aware now, for every stored timestamp."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base: aware datetimes, stable constraint names (portable Alembic diffs)."""

    registry = registry(
        metadata=MetaData(
            naming_convention={
                "ix": "ix_%(column_0_label)s",
                "uq": "uq_%(table_name)s_%(column_0_name)s",
                "ck": "ck_%(table_name)s_%(constraint_name)s",
                "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
                "pk": "pk_%(table_name)s",
            }
        ),
        type_annotation_map={datetime: UTCDateTime()},
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
htmx = HTMX()
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()

DEFAULTS = {
    "SQLALCHEMY_DATABASE_URI": "sqlite:///relaydash.sqlite",
    "DEFAULT_PROVIDERS": [
        {"name": "聚合AI", "base_url": "https://api.juheai.top", "cny_rate": 3.5}
    ],
    "RELAY_CONNECT_TIMEOUT": 3.0,
    "RELAY_READ_TIMEOUT": 10.0,
    "RESULT_CACHE_SECONDS": 30,
    "LOG_CACHE_SECONDS": 120,
    "BATCH_MAX_KEYS": 100,
    "BATCH_CONCURRENCY": 8,
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "LOOKUP_RATE_LIMIT": "20/minute;200/hour",
    "BATCH_RATE_LIMIT": "4/minute;30/hour",
    "FIRST_POLL": "background",
    # The poller and scheduler (see blueprints/keys/poller.py, blueprints/scheduler/).
    "SCHEDULER_ENABLED": False,
    "POLL_TICK_SECONDS": 30,
    "ALERTS_TICK_SECONDS": 30,
    "POLL_THREADS": 32,
    "POLL_PER_PROVIDER": 16,
    "POLL_BATCH": 100,
    "SAMPLE_RETENTION_DAYS": 90,
    # Zones whose local days are stored as daily rollups; other zones group hourly rows.
    "USAGE_DAY_ZONES": ["Asia/Shanghai", "UTC"],
    "LEASE_SECONDS": 20,
    "LEASE_RENEW_SECONDS": 5,
    "LOG_READS_PER_PASS": 2,
    "LOG_BUDGET_HEADROOM": 4,
    # Alert channels: https only, official bot hosts, public addresses (SSRF guard).
    "ALERTS_ALLOW_HTTP": False,
    "ALERTS_ALLOW_ANY_HOST": False,
    "ALERTS_ALLOW_PRIVATE": False,
    "ALERTS_TEST_RATE_LIMIT": "6/minute;60/hour",
    "LOGIN_RATE_LIMIT": "10/minute;60/hour",
    "LOGIN_USER_RATE_LIMIT": "5/minute;30/hour",
    # Provider status (blueprints/status/): probes, history, public page.
    "STATUS_TICK_SECONDS": 15,
    "STATUS_THREADS": 32,
    "STATUS_CONNECT_TIMEOUT": 5.0,
    "STATUS_READ_TIMEOUT": 30.0,
    "STATUS_RAW_DAYS": 7,
    "STATUS_CACHE_SECONDS": 30,
    "STATUS_RATE_LIMIT": "120/minute",
    # The playground (blueprints/playground/): members only unless PLAYGROUND_PUBLIC.
    "PLAYGROUND_PUBLIC": False,
    "PLAYGROUND_RATE_LIMIT": "60/minute;600/hour",  # upstream calls (columns × repeats) per user
    "PLAYGROUND_MODELS_RATE_LIMIT": "30/minute",
    "PLAYGROUND_MODELS_SECONDS": 300,
    "PLAYGROUND_READ_TIMEOUT": 120.0,  # longer than new-api's 60 s idle stream timeout
    "PLAYGROUND_MAX_BYTES": 1024 * 1024,
    "WTF_CSRF_TIME_LIMIT": None,
    "BABEL_DEFAULT_LOCALE": "en",
    "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
}


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults → instance/config.py → RELAYDASH_* env → test_config."""
    # RELAYDASH_INSTANCE moves instance/ (database, secrets, config.py), e.g. to /var/lib/relaydash.
    instance = os.environ.get("RELAYDASH_INSTANCE") or None
    app = Flask(__name__, instance_relative_config=True, instance_path=instance)
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("RELAYDASH")
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app.instance_path, "secret_key")
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    # Imported here, not at the top: the blueprints import `db` and friends from this module.
    from blueprints import BLUEPRINTS, init_app

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    init_app(app)
    return app


def instance_secret(instance_path: str, name: str) -> str:
    """Read a generated secret from instance/, creating it (mode 0600) on first run."""
    path = Path(instance_path) / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # The poller writes while requests read: WAL, a busy timeout and real foreign keys.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # Safe with WAL (no corruption on power loss, at worst the last commits) and much cheaper.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
