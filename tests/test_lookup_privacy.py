"""The privacy promise: a pasted key lives only in the memory of the request that uses it."""

from __future__ import annotations

import logging
from pathlib import Path

import requests

import relay
from blueprints.lookup.service import LOGS, RESULTS
from blueprints.providers.service import add_provider
from database import db
from relay.redact import redact
from tests.fakerelay import make_logs

USD = 500000


def _every_lookup_path(session: requests.Session, base: str, provider: str, key: str) -> list:
    """Hit every endpoint that takes a key, as a browser and as a script would."""
    form = {"provider": provider, "key": key, "tz": "Asia/Shanghai"}
    hx = {"HX-Request": "true"}
    return [
        session.post(f"{base}/lookup", data=form),
        session.post(f"{base}/lookup", data=form, headers=hx),
        session.post(f"{base}/lookup/log", data=form, headers=hx),
        session.post(f"{base}/lookup/log", data={**form, "sort": "cost", "page": "2"}),
        session.post(f"{base}/lookup/log.csv", data=form),
        session.post(f"{base}/api/v1/lookup", json={"provider": provider, "key": key}),
        session.post(f"{base}/api/v1/lookup/batch", json={"provider": provider, "keys": [key]}),
        session.post(f"{base}/batch", data={"provider": provider, "keys": key}),
        session.post(
            f"{base}/batch",
            data={"provider": provider, "keys": key},
            headers={"Accept": "application/x-ndjson"},
        ),
    ]


def test_it_keeps_keys_out_of_responses_logs_urls_database_and_caches(
    app, live_server, relays, caplog, capfd
):
    """Lookups of good, spent, unknown and faulted keys in several families leave no key behind."""
    caplog.set_level(logging.DEBUG)  # everything, urllib3's request lines included
    new = relays("new-api-2026")
    old = relays("new-api-2025")  # its log endpoint takes ?key= in the query string
    broken = relays("new-api-2026")
    broken.set_fault("*", "reset")
    litellm = relays("litellm")  # its 401 texts quote the key's tail and hash
    router = relays("openrouter")
    with app.app_context():
        add_provider("new", new.url)
        add_provider("old", old.url)
        add_provider("broken", broken.url)
        add_provider("litellm", litellm.base_url)
        add_provider("router", router.base_url)
    keys = {
        "new": [
            new.add_token(logs=make_logs(30)).key,
            new.add_token(remain_quota=0, used_quota=5 * USD).key,
            "sk-" + "u" * 48,
        ],
        "old": [old.add_token(logs=make_logs(30)).key, "sk-" + "v" * 48],
        "broken": ["sk-" + "w" * 48],
        "litellm": [litellm.add_token(max_budget=5.0).key, "sk-" + "x" * 48],
        "router": [router.add_token(limit=3.0).key, "sk-" + "y" * 48],
    }
    everything = [key for group in keys.values() for key in group]
    seen: list[str] = []
    with requests.Session() as session:
        for provider, group in keys.items():
            for key in group:
                for response in _every_lookup_path(session, live_server, provider, key):
                    assert response.status_code < 500
                    seen.append(response.text)
                    seen.append(str(response.headers))
                    seen.append(response.url)
    seen.append(caplog.text)
    seen.extend(record.getMessage() for record in caplog.records)
    captured = capfd.readouterr()
    seen.extend((captured.out, captured.err))
    seen.extend(str(name) for cache in (RESULTS, LOGS) for name in cache._items)
    seen.extend(repr(value) for _, value in RESULTS._items.values())
    with app.app_context():
        db.session.close()
        database = Path(db.engine.url.database)
    for path in database.parent.glob(database.name + "*"):
        seen.append(path.read_bytes().decode("latin-1"))
    assert any("urllib3" in record.name for record in caplog.records), "request lines were logged"
    for text in seen:
        for key in everything:
            assert key not in text
            assert key[3:] not in text  # not even without its sk- prefix


def test_it_never_sends_the_key_in_the_models_url(client, provider, fake):
    """/v1/models gets the key in the header only (new-api 2026 answers ?key= differently)."""
    token = fake.add_token()
    client.post("/api/v1/lookup", json={"provider": "fake", "key": token.key})
    models = fake.requests_to("/v1/models")
    assert models and all("key" not in call.query for call in models)
    assert all(call.headers["Authorization"] == f"Bearer {token.key}" for call in models)


def test_it_redacts_key_shaped_text_in_log_records():
    """Keys in a message, a query string or a traceback are masked before any handler."""
    key = "sk-" + "k" * 48
    assert key not in redact(f"GET /api/log/token?key={key} HTTP/1.1")
    assert "key=***" in redact("GET /api/log/token?key=abcdefgh&x=1")
    assert redact("nothing secret here") == "nothing secret here"
    logger = logging.getLogger("urllib3.connectionpool")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"boom {key}")
        except ValueError:
            logger.warning("url %s", f"/x?key={key}", exc_info=True)
    finally:
        logger.removeHandler(handler)
    assert key not in records[0].getMessage()
    assert key not in (records[0].exc_text or "")


def test_it_uses_hmac_cache_keys(app, client, provider, fake):
    """Result caches are keyed by an HMAC, never by the key."""
    token = fake.add_token()
    client.post("/api/v1/lookup", json={"provider": "fake", "key": token.key})
    names = list(RESULTS._items)
    assert len(names) == 1 and len(names[0]) == 64
    assert token.key not in names[0]
    assert relay.STATUS_CACHE.peek(fake.url) is not None
