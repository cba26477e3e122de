"""relaydash: the application factory (config chain, extensions, blueprints)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from blueprints import BLUEPRINTS, init_app
from blueprints.shared.counters import configure_limiter
from blueprints.shared.inputs import IdConverter
from database import db
from demo.cli import demo_command
from extensions import (
    csrf,
    htmx,
    instance_secret,
    limiter,
    login_manager,
    migrate,
    owner_only_dir,
    require_shared_secrets,
)

ROOT = Path(__file__).resolve().parent

DEFAULTS = {
    "SQLALCHEMY_DATABASE_URI": "sqlite:///relaydash.sqlite",
    "DEFAULT_PROVIDERS": [
        {"name": "聚合AI", "base_url": "https://api.juheai.top", "cny_rate": 3.5}
    ],
    "RELAY_CONNECT_TIMEOUT": 3.0,
    "RELAY_READ_TIMEOUT": 10.0,
    # Provider base URLs on private or local addresses (a LAN relay): only when an admin says so,
    # since members' stored keys are sent there (relay/guard.py).
    "ALLOW_PRIVATE_PROVIDERS": False,
    "RESULT_CACHE_SECONDS": 30,
    "LOG_CACHE_SECONDS": 120,
    "BATCH_MAX_KEYS": 100,
    "BATCH_CONCURRENCY": 8,
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "RATELIMIT_ENABLED": True,
    # Empty: REDIS_URL when set, else the database, so every worker counts together
    # (blueprints/shared/counters.py); memory:// counts per process.
    "RATELIMIT_STORAGE_URI": "",
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
    # Logins: every attempt per client; failures per (client, username), the tight one, and
    # failures per username from all clients together, much looser (see blueprints/auth/routes.py).
    "LOGIN_RATE_LIMIT": "10/minute;60/hour",
    "LOGIN_FAILURE_RATE_LIMIT": "5/minute;30/hour",
    "LOGIN_USER_RATE_LIMIT": "100/hour;300/day",
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
    # Cookies: Secure by default (served over https behind a TLS proxy); `make run` on
    # http://127.0.0.1 turns it off. Over https the cookie is Secure whatever this says.
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    # Reverse proxies in front that set X-Forwarded-For/-Proto (0: trust no such header).
    "TRUSTED_PROXIES": 0,
    # The shared store for several workers and machines (relay request budgets): redis://… ;
    # empty: the database keeps them (see README "Several workers and machines").
    "REDIS_URL": "",
    # Prometheus /metrics (blueprints/metrics/): off (404) unless set; then a scrape sends
    # `Authorization: Bearer <METRICS_TOKEN>`.
    "METRICS_TOKEN": "",
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
    require_shared_secrets(app.config)
    owner_only_dir(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app.instance_path, "secret_key")
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    configure_limiter(app)  # after db.init_app: the counters live beside the database
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    app.url_map.converters["id"] = IdConverter  # before the routes that use <id:…>
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    init_app(app)
    app.cli.add_command(demo_command(create_app))  # `flask demo` (demo/, README)
    return app


def engine_options(config) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS with our defaults: a server database's pooled connections are
    tested before use (pool_pre_ping), so a restarted PostgreSQL costs no failed request.
    Options set in the config win; SQLite files need none."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if not str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        options.setdefault("pool_pre_ping", True)
    return options
