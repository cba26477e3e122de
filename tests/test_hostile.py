"""Hostile input on every route: no value in a path, query, form or JSON body gets a 5xx.

The route list comes from the app's own URL map, so a new route is covered without editing this
file. Each value goes into every path argument, into every field the route reads (one at a time,
beside valid values, so the parse that matters is reached), as admin and as a guest; deeply
nested JSON goes to every POST route. Real app, real SQLite, a fake relay on a real socket.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from blueprints.alerts.models import Channel
from blueprints.playground.build import PARAMS
from blueprints.providers.service import add_provider
from blueprints.shared.inputs import BadValue, check_depth, whole_number
from blueprints.shared.vault import vault
from blueprints.status import LIMITS
from blueprints.status.models import Incident, Notice
from database import db, utcnow
from tests.conftest import login, make_app
from tests.databases import copy_database, keep_database
from tests.fakerelay import FakeRelay

NESTED = "[" * 2000
HOSTILE = {
    "superscript": "²",  # str.isdigit() says yes, int() says no
    "arabic_digit": "٣",  # int() says 3: not ASCII, so not a number here
    "digits_5000": "9" * 5000,  # int() refuses more than 4300 digits
    "two_to_63": str(2**63),  # one past SQLite's INTEGER
    "twenty_nines": "9" * 20,
    "negative": "-1",
    "year_one": "0001-01-01",  # a date that overflows once a zone is applied
    "year_9999": "9999-12-31",
    "epoch": "1970-01-01",
    "nested": NESTED,
    "nul": "a\x00b",
}

# The seeded row each path argument names when the value goes into the fields instead.
SEEDED = {
    "pid": "1",
    "uid": "2",  # bob: the admin's own account stays usable
    "key_id": "1",
    "channel_id": "1",
    "notice_id": "1",
    "incident_id": "1",
    "run_id": "none",
    "token": "none",
    "kind": "atom",  # the status feeds: /status/feed.<kind>
    "name": "fake",
    "filename": "css/app.css",
}

# Valid fields per endpoint, so a hostile value in one of them reaches its own parse.
FORMS = {
    "lookup.lookup": {"provider": "fake", "key": "sk-" + "a" * 40},
    "lookup.log": {"provider": "fake", "key": "sk-" + "a" * 40, "page": "1", "size": "20"},
    "lookup.batch_run": {"provider": "fake", "keys": "sk-" + "a" * 40},
    "status.index": {"page": "1"},
    "status.provider": {"range": "24h"},
    "status.feed": {"metric": "status", "window": "24h"},
    "alerts.index": {"page": "1"},
    "alerts.log": {"page": "1"},
    "usage.index": {"sort": "runway", "tz": "UTC"},
    "usage.key": {
        "range": "custom",
        "from": "2026-01-01",
        "to": "2026-01-05",
        "tz": "Asia/Shanghai",
    },
    "usage.key_csv": {"range": "custom", "from": "2026-01-01", "to": "2026-01-05", "tz": "UTC"},
    "keys.add": {"provider": "fake", "key": "sk-" + "b" * 40, "poll_minutes": "10"},
    "keys.edit": {"low_threshold": "1", "expiry_warn_days": "7", "poll_minutes": "10"},
    "admin.add_provider": {"name": "other", "base_url": "http://127.0.0.1:9", "cny_rate": "7"},
    "admin.save_provider": {"name": "fake", "base_url": "http://127.0.0.1:9", "budget": "20/60"},
    "admin.save_monitor": {name: str(low) for name, (low, _high) in LIMITS.items()},
    "admin.add_notice": {"kind": "announcement", "title": "soon", "hours": "2"},
    "playground.run": {
        "source": "tracked",
        "key_id": "1",
        "model": "gpt-4o-mini",
        "role": "user",
        "content": "hi",
        "repeat": "1",
        **{name: str(low) for name, (_kind, low, _high) in PARAMS.items()},
    },
    "playground.code": {
        "source": "tracked",
        "key_id": "1",
        "model": "m",
        "role": "user",
        "content": "hi",
        "format": "json_schema",
        "schema_name": "answer",
        "schema": '{"type": "object"}',
    },
    "playground.models": {"source": "tracked", "key_id": "1"},
}
# Fields that only mean something together, made hostile together too.
TOGETHER = (("from", "to"),)

# Fields a route without its own entry gets, every one hostile at once.
FIELDS = sorted({name for form in FORMS.values() for name in form} | {"next", "lang", "id"})

# Routes that end what later requests need; they go last.
LAST = ("auth.logout", "keys.delete", "alerts.delete", "admin.remove_provider", "admin.user_")


@pytest.fixture(scope="module")
def relay() -> Iterator[FakeRelay]:
    """One fake relay for the whole module."""
    fake = FakeRelay("new-api-2026", fault_sleep=2.0).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, relay) -> Path:
    """A database with one of everything a route can name, copied for each test."""
    folder = tmp_path_factory.mktemp("seeded")
    app = make_app(folder)
    keep_database(folder)  # copied for each test of the module
    with app.app_context():
        add_provider("fake", relay.url + "/v1", cny_rate=3.5)
    client = app.test_client()
    runner = app.test_cli_runner()
    create = ["users", "create", "--password-stdin"]
    runner.invoke(args=[*create, "--admin", "root"], input="pw-root-123\n")
    runner.invoke(args=[*create, "bob"], input="pw-bob-1234\n")
    login(client, "root", "pw-root-123")
    added = client.post("/keys", data={"provider": "fake", "key": relay.add_token().key})
    assert added.headers["Location"] == "/keys", added.get_data(as_text=True)
    with app.app_context():
        now = utcnow()
        db.session.add(Incident(provider_id=1, state="down", cause="timeout", started_at=now))
        db.session.add(Notice(provider_id=1, kind="announcement", title="t", starts_at=now))
        db.session.add(
            Channel(
                user_id=1,
                kind="webhook",
                name="ops",
                url_ciphertext=vault().encrypt("https://127.0.0.1:9/hook"),
                url_hint="127…hook",
            )
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return folder


@pytest.fixture
def hostile_app(tmp_path, seeded):
    """The app on a fresh copy of the seeded database."""
    copy_database(seeded, tmp_path)
    app = make_app(tmp_path, PLAYGROUND_PUBLIC=False)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _user_client(app, who: str):
    client = app.test_client()
    if who == "admin":
        assert login(client, "root", "pw-root-123").status_code in (302, 303)
    return client


def _rules(app) -> list:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint.startswith(LAST), r.rule))


def _path(rule, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: quote(values[m[1]], safe=""), rule.rule)


def _methods(rule) -> list[str]:
    return sorted(m for m in rule.methods if m in ("GET", "POST", "OPTIONS"))


def requests_for(rule, value: str) -> Iterator[tuple[str, str, dict]]:
    """(method, path, fields) for one route and one hostile value."""
    arguments = sorted(rule.arguments)
    own = FORMS.get(rule.endpoint)
    for method in _methods(rule):
        if arguments:  # the value in every path argument, every field hostile too
            path = _path(rule, dict.fromkeys(arguments, value))
            yield method, path, dict.fromkeys(FIELDS, value)
        path = _path(rule, {name: SEEDED[name] for name in arguments})
        if own is None or method == "OPTIONS":  # OPTIONS reads no field: the hooks only
            yield method, path, dict.fromkeys(FIELDS, value)
            continue
        for name in own:  # one field hostile at a time, beside valid ones
            yield method, path, {**own, name: value}
        for names in TOGETHER:
            if set(names) <= set(own):
                yield method, path, {**own, **dict.fromkeys(names, value)}


def send(client, method: str, path: str, fields: dict) -> int:
    """The status code (the response closed: a static file holds an open handle)."""
    if method == "POST":
        response = client.post(path, data=fields)
    else:
        response = client.open(path, method=method, query_string=fields)
    response.close()
    return response.status_code


@pytest.mark.parametrize("who", ["admin", "guest"])
@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_it_answers_every_route_below_500(hostile_app, who, value):
    """Every route, every method (OPTIONS too), the value everywhere it can go: no 5xx."""
    client = _user_client(hostile_app, who)
    failures, sent = [], 0
    for rule in _rules(hostile_app):
        for method, path, fields in requests_for(rule, value):
            status = send(client, method, path, fields)
            sent += 1
            if status >= 500:
                failures.append(f"{status} {method} {path[:80]} {sorted(fields)[:6]}")
    assert sent > 100
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("who", ["admin", "guest"])
def test_it_refuses_deep_json_on_every_post_route(hostile_app, who):
    """Two thousand open brackets as a JSON body: never a RecursionError."""
    client = _user_client(hostile_app, who)
    failures = []
    for rule in _rules(hostile_app):
        if "POST" not in rule.methods:
            continue
        path = _path(rule, {name: SEEDED[name] for name in rule.arguments})
        for body in (NESTED, '{"provider": ' + NESTED, '{"keys": [' + "[" * 5000 + "]}"):
            response = client.post(path, data=body, content_type="application/json")
            response.close()
            status = response.status_code
            if status >= 500:
                failures.append(f"{status} POST {path}")
    assert failures == [], "\n".join(failures)


# -- the values the audit found, each with the answer it gets --------------------------------

PLAYGROUND = FORMS["playground.run"]


@pytest.mark.parametrize(
    "method,url,form,status,text",
    [
        ("GET", "/status?page=%C2%B2", None, 400, "“page” must be a whole number from 1"),
        ("GET", "/keys/99999999999999999999", None, 404, "nothing at this address"),
        ("GET", "/keys/%D9%A3", None, 404, "nothing at this address"),
        ("GET", "/usage/9223372036854775808", None, 404, "nothing at this address"),
        ("POST", "/alerts/channels/9223372036854775808/enabled", {}, 404, "nothing at this"),
        ("GET", "/admin/providers/99999999999999999999/edit", None, 404, "nothing at this"),
        (
            "GET",
            "/usage/1?range=custom&from=0001-01-01&to=0001-01-05&tz=Asia/Shanghai",
            None,
            400,
            "“from” must be a date written YYYY-MM-DD, from 1970-01-01 to 9999-12-30.",
        ),
        ("POST", "/playground/run", {**PLAYGROUND, "repeat": "²"}, 400, "Repeat must be"),
        ("POST", "/playground/run", {**PLAYGROUND, "repeat": "9" * 5000}, 400, "Repeat must"),
        ("POST", "/playground/run", {**PLAYGROUND, "key_id": "²"}, 400, "your tracked keys"),
        ("POST", "/playground/run", {**PLAYGROUND, "key_id": str(2**63)}, 400, "tracked keys"),
        ("POST", "/playground/run", {**PLAYGROUND, "seed": "9" * 5000}, 400, "“seed” must be"),
        ("POST", "/playground/run", {**PLAYGROUND, "top_p": "1e999"}, 400, "“top_p” must be"),
        (
            "POST",
            "/playground/code",
            {**FORMS["playground.code"], "schema": NESTED},
            400,
            "nested too deeply (at most 64 levels)",
        ),
        ("POST", "/admin/status/1", {"status_seconds": "²"}, 400, "status_seconds must be a"),
        ("POST", "/admin/status/1", {"slow_ms": "9" * 5000}, 400, "slow_ms must be a whole"),
        (
            "POST",
            "/admin/status/1/notices",
            {"kind": "announcement", "title": "soon", "hours": "²"},
            400,
            "A notice needs a title",
        ),
        ("POST", "/keys/1", {"expiry_warn_days": "9" * 5000}, 400, "not a number"),
        ("POST", "/lookup/log", {**FORMS["lookup.log"], "page": "²"}, 400, "“page” must be"),
    ],
)
def test_it_refuses_each_value_the_audit_found_with_a_reason(
    hostile_app, method, url, form, status, text
):
    """A 400 that says which field and why (404 for an id that names no row), not a 500."""
    client = _user_client(hostile_app, "admin")
    response = client.get(url) if method == "GET" else client.post(url, data=form)
    assert response.status_code == status
    assert text in response.get_data(as_text=True).replace("&#34;", '"')


@pytest.mark.parametrize("path", ["/api/v1/lookup", "/api/v1/lookup/batch"])
def test_it_refuses_deep_json_on_the_api_in_json(hostile_app, path):
    """Anonymous, as the audit sent it: a JSON 400 naming the reason."""
    response = hostile_app.test_client().post(path, data=NESTED, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "too_deep"
    assert response.headers["Cache-Control"] == "no-store"


def test_it_says_why_in_the_pages_language(hostile_app):
    """The refusal is translated, field name and limits filled in."""
    client = hostile_app.test_client()
    client.set_cookie("lang", "zh_CN")
    page = client.get("/status?page=%C2%B2").get_data(as_text=True)
    assert "“page”必须是 1 到 99999 之间的整数（只用数字 0-9）。" in page
    api = client.post("/api/v1/lookup", data=NESTED, content_type="application/json")
    assert api.get_json()["error"]["message"] == "“body”中的 JSON 嵌套太深（最多 64 层）。"


@pytest.mark.parametrize("text", ["42", " 42 ", "0"])
def test_it_reads_plain_numbers_as_before(text):
    """Only ASCII digits; whitespace around is fine."""
    assert whole_number(text, "n") == int(text)


@pytest.mark.parametrize("text", ["²", "٣", "4_2", "+4", "4.0", "9" * 20, "9" * 5000, "0x2a"])
def test_it_refuses_what_int_would_mangle(text):
    """Each of these passes str.isdigit(), int() or both, and none is a plain number."""
    with pytest.raises(BadValue):
        whole_number(text, "n")


def test_it_checks_json_depth_without_recursing():
    """Brackets inside strings do not count; a million brackets are refused, not recursed."""
    check_depth('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', "b")
    check_depth("[" * 64 + "]" * 64, "b")
    with pytest.raises(BadValue):
        check_depth("[" * 65, "b")
    with pytest.raises(BadValue):
        check_depth("{" * 1_000_000, "b")
