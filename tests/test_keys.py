"""My keys: owners only, encrypted at rest, add/edit/pause/delete, the keys CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from blueprints.alerts.models import Channel
from blueprints.auth.service import create_user
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.keys.poller import poll_once
from blueprints.shared.vault import vault
from database import db
from tests.conftest import login, make_app

HX = {"HX-Request": "true"}


@pytest.fixture
def alice(client, make_user, provider):
    """Alice, logged in, with the fake provider available."""
    make_user("alice")
    login(client, "alice")
    return client


def add(client, key, **fields):
    """POST the add-key form."""
    form = {"provider": "fake", "key": key, "label": "team", "poll_minutes": "10", **fields}
    return client.post("/keys", data=form)


def stored(app) -> list[TrackedKey]:
    """Every tracked key row."""
    with app.app_context():
        return list(db.session.scalars(db.select(TrackedKey)))


def test_it_stores_only_ciphertext(app, alice, fake):
    """The key is Fernet ciphertext in the database; its bytes appear nowhere in the file."""
    token = fake.add_token()
    assert add(alice, token.key).status_code == 303
    [row] = stored(app)
    assert row.masked == f"{token.key[:6]}…{token.key[-4:]}"
    with app.app_context():
        assert vault().decrypt(row.ciphertext) == token.key
        database = Path(db.engine.url.database)
        db.session.close()
    for path in database.parent.glob(database.name + "*"):
        data = path.read_bytes()
        assert token.key.encode() not in data and token.key[3:].encode() not in data
    page = alice.get("/keys").get_data(as_text=True)
    assert row.masked in page and token.key not in page


@pytest.mark.parametrize(
    "fields,code",
    [
        ({"key": "not a key"}, "relay key"),
        ({"poll_minutes": "0.5"}, "between 1 and 1440"),
        ({"low_threshold": "-3"}, "at least 0"),
        ({"low_threshold": "lots"}, "not a number"),
        ({"poll_minutes": "1e308"}, "between 1 and 1440"),
        ({"poll_minutes": "nan"}, "not a number"),
        ({"provider": "nope"}, "provider from the list"),
    ],
)
def test_it_refuses_bad_keys_and_settings(app, alice, fake, fields, code):
    """Bad input → 400 with a clear message, nothing stored."""
    token = fake.add_token()
    response = add(alice, fields.pop("key", token.key), **fields)
    assert response.status_code == 400
    assert code in response.get_data(as_text=True)
    assert stored(app) == []


def test_it_refuses_a_key_already_tracked(app, alice, fake):
    """The HMAC fingerprint finds the duplicate without decrypting."""
    token = fake.add_token()
    add(alice, token.key)
    again = add(alice, "  " + token.key + "\n", label="again")
    assert again.status_code == 400 and "already track" in again.get_data(as_text=True)
    assert len(stored(app)) == 1


def test_it_edits_pauses_and_deletes_with_history(app, alice, fake):
    """Edit settings, pause/resume, and delete purges the key and its samples."""
    add(alice, fake.add_token().key)
    [row] = stored(app)
    form = {
        "label": "renamed",
        "low_threshold": "2.5",
        "expiry_warn_days": "3",
        "poll_minutes": "5",
    }
    assert alice.post(f"/keys/{row.id}", data=form).status_code == 303
    assert alice.post(f"/keys/{row.id}/pause", data={"paused": "1"}).status_code == 303
    [row] = stored(app)
    assert (row.label, row.low_threshold, row.expiry_warn_days, row.poll_interval) == (
        "renamed",
        2.5,
        3,
        300,
    )
    assert row.paused is True
    with app.app_context():
        db.session.add(BalanceSample(key_id=row.id, status="active", remaining=1.0))
        db.session.commit()
    assert b"Delete for good" in alice.get(f"/keys/{row.id}/delete").data
    assert alice.post(f"/keys/{row.id}/delete").status_code == 303
    assert stored(app) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(BalanceSample)) == 0


KEY_URLS = [
    ("get", "/keys/{id}"),
    ("post", "/keys/{id}"),
    ("post", "/keys/{id}/pause"),
    ("get", "/keys/{id}/delete"),
    ("post", "/keys/{id}/delete"),
]


@pytest.mark.parametrize("method,url", KEY_URLS)
def test_it_hides_keys_from_outsiders(app, client, make_user, provider, fake, method, url):
    """Charlie gets 404 on Alice's key (it does not exist for him); Alice's key survives."""
    make_user("alice")
    make_user("charlie")
    login(client, "alice")
    add(client, fake.add_token().key)
    [row] = stored(app)
    client.post("/logout")
    login(client, "charlie")
    response = getattr(client, method)(url.format(id=row.id), data={"label": "x"})
    assert response.status_code == 404
    assert stored(app)[0].label == "team"
    assert row.masked not in client.get("/keys").get_data(as_text=True)


@pytest.mark.parametrize("method,url", [("get", "/keys"), ("post", "/keys"), *KEY_URLS])
def test_it_sends_anonymous_visitors_to_login(client, method, url):
    """Every keys URL needs a login."""
    response = getattr(client, method)(url.format(id=1))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_it_enforces_csrf_on_key_forms(tmp_path, fake):
    """With CSRF on, adding a key without the token is refused."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    runner = app.test_cli_runner()
    runner.invoke(args=["users", "create", "alice", "--password-stdin"], input="password123\n")
    runner.invoke(args=["providers", "add", "fake", fake.url])
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(
        "/login", data={"username": "alice", "password": "password123", "csrf_token": token}
    )
    response = client.post("/keys", data={"provider": "fake", "key": fake.add_token().key})
    assert response.status_code == 400
    assert stored(app) == []


def test_it_returns_only_the_table_for_htmx_polling(alice, fake):
    """The list polls itself: htmx gets the table fragment, not the page."""
    add(alice, fake.add_token().key)
    fragment = alice.get("/keys", headers=HX)
    assert b"<html" not in fragment.data and b'id="key-rows"' in fragment.data
    assert fragment.headers["Cache-Control"] == "no-store"


def test_it_adds_imports_and_lists_keys_from_the_cli(app, make_user, provider, fake, tmp_path):
    """keys add (stdin), keys import FILE, keys list --json, keys rotate-encryption."""
    make_user("alice")
    runner = app.test_cli_runner()
    one = fake.add_token()
    added = runner.invoke(
        args=["keys", "add", "--user", "alice", "--provider", "fake", "--label", "solo"],
        input=one.key + "\n",
    )
    assert added.exit_code == 0, added.output
    assert one.key not in added.output
    file = tmp_path / "keys.txt"
    two, three = fake.add_token(), fake.add_token()
    file.write_text(f"{two.key},second\n{three.key}\n{one.key}\nnonsense\n# comment\n")
    imported = runner.invoke(
        args=["keys", "import", "--user", "alice", "--provider", "fake", str(file)]
    )
    assert "added 2, duplicates 1, bad 1" in imported.output
    listing = json.loads(runner.invoke(args=["keys", "list", "--json"]).output)
    assert [row["label"] for row in listing] == ["solo", "second", f"…{three.key[-4:]}"]
    assert set(listing[0]) == {
        "id",
        "label",
        "provider",
        "masked",
        "status",
        "remaining",
        "unlimited",
        "unit",
        "last_polled_at",
        "samples",
    }
    assert not any(k.key in json.dumps(listing) for k in (one, two, three))


def test_keys_list_says_unlimited_not_none(app, make_user, provider, fake):
    """An unlimited key's remaining is 'unlimited' in the plain listing, never Python's None."""
    make_user("alice")
    runner = app.test_cli_runner()
    token = fake.add_token(unlimited=True)
    added = runner.invoke(
        args=["keys", "add", "--user", "alice", "--provider", "fake", "--label", "open"],
        input=token.key + "\n",
    )
    assert added.exit_code == 0, added.output
    with app.app_context():
        poll_once()
    line = runner.invoke(args=["keys", "list"]).output.strip()
    assert "\tunlimited\t" in line and "None" not in line


def test_it_rotates_encryption_to_the_first_key(tmp_path, fake):
    """After rotation, only the new first key is needed to decrypt."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = make_app(tmp_path, FERNET_KEYS=old)
    runner = app.test_cli_runner()
    runner.invoke(args=["users", "create", "alice", "--password-stdin"], input="password123\n")
    runner.invoke(args=["providers", "add", "fake", fake.url])
    token = fake.add_token()
    runner.invoke(args=["keys", "add", "--user", "alice", "--provider", "fake"], input=token.key)
    rotated_app = make_app(tmp_path, FERNET_KEYS=f"{new},{old}")
    result = rotated_app.test_cli_runner().invoke(args=["keys", "rotate-encryption"])
    assert "re-encrypted 1 row(s)" in result.output
    only_new = make_app(tmp_path, FERNET_KEYS=new)
    with only_new.app_context():
        [row] = db.session.scalars(db.select(TrackedKey)).all()
        assert vault().decrypt(row.ciphertext) == token.key


def test_it_rotates_alert_channel_urls_too(tmp_path):
    """Webhook URLs (they carry bot tokens) are rotated with the keys."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = make_app(tmp_path, FERNET_KEYS=old)
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc123"
    with app.app_context():
        user = create_user("alice", "password123")
        channel = Channel(
            user_id=user.id,
            kind="wecom",
            name="ops",
            url_ciphertext=vault().encrypt(url),
            url_hint="qyapi…c123",
        )
        db.session.add(channel)
        db.session.commit()
    rotated = make_app(tmp_path, FERNET_KEYS=f"{new},{old}")
    assert (
        "re-encrypted 1 row(s)"
        in rotated.test_cli_runner().invoke(args=["keys", "rotate-encryption"]).output
    )
    with make_app(tmp_path, FERNET_KEYS=new).app_context():
        [row] = db.session.scalars(db.select(Channel)).all()
        assert vault().decrypt(row.url_ciphertext) == url


def test_it_warns_when_the_request_budget_cannot_fit(app, alice, fake):
    """Keys × calls per poll over the provider budget → a warning naming an interval that fits."""
    runner = app.test_cli_runner()
    edit = ["providers", "edit", "fake", "--request-budget"]
    assert runner.invoke(args=[*edit, "10/180"]).exit_code == 0
    for _ in range(3):
        add(alice, fake.add_token().key, poll_minutes="1")
    html = alice.get("/keys").get_data(as_text=True)
    assert 'data-testid="budget-warning"' in html
    assert "request budget is 10" in html and "min or more would fit" in html
    assert runner.invoke(args=[*edit, "0"]).exit_code == 0
    assert 'data-testid="budget-warning"' not in alice.get("/keys").get_data(as_text=True)


def _key_with_requests(app, alice, fake, count: int) -> int:
    """Alice's key with `count` logged requests, one a minute, costing $0.01 + $0.001 × i."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    from blueprints.keys.models import UsageRecord

    assert add(alice, fake.add_token().key).status_code == 303
    [row] = stored(app)
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    with app.app_context():
        for i in range(count):
            db.session.add(
                UsageRecord(
                    key_id=row.id,
                    created_at=start + timedelta(minutes=i),
                    model=f"model-{i:03d}",
                    prompt_tokens=100,
                    completion_tokens=10,
                    cost=round(0.01 + 0.001 * i, 6),
                    unit="USD",
                    dedupe=hashlib.sha256(f"{i}".encode()).hexdigest()[:32],
                )
            )
        db.session.commit()
    return row.id


def test_recent_requests_are_paged_with_totals_of_them_all(app, alice, fake):
    """45 requests: 20 a page, newest first, totals over all 45 on every page, links between."""
    key_id = _key_with_requests(app, alice, fake, 45)
    first = alice.get(f"/keys/{key_id}").get_data(as_text=True)
    assert first.count("<code>model-") == 20
    assert "model-044" in first and "model-024" not in first  # newest first
    totals = "45 requests logged in all · 4,500 prompt + 450 completion tokens · $1.44"
    assert totals in first  # 45 × 0.01 + 0.001 × (0 + … + 44) = 0.45 + 0.99
    assert f'href="/keys/{key_id}?page=2#requests"' in first and "1–20 of 45" in first
    last = alice.get(f"/keys/{key_id}?page=3").get_data(as_text=True)
    assert last.count("<code>model-") == 5 and "model-004" in last and "model-005" not in last
    assert totals in last and "41–45 of 45" in last and 'data-testid="usage-older"' not in last
    # past the end: the last page, not an empty one
    beyond = alice.get(f"/keys/{key_id}?page=999").get_data(as_text=True)
    assert "41–45 of 45" in beyond


@pytest.mark.parametrize("page", ["0", "-1", "x", "1.5", "²", "9" * 40, "[]", "１"])
def test_a_bad_page_number_is_a_400_not_a_500(app, alice, fake, page):
    """Any page that is not a whole number from 1 is refused with a clear 400."""
    key_id = _key_with_requests(app, alice, fake, 3)
    response = alice.get(f"/keys/{key_id}", query_string={"page": page})
    assert response.status_code == 400
    assert "“page” must be a whole number" in response.get_data(as_text=True)


def test_a_few_requests_need_no_pager(app, alice, fake):
    """Up to 20 requests: one page, no pager, totals still shown."""
    key_id = _key_with_requests(app, alice, fake, 1)
    page = alice.get(f"/keys/{key_id}").get_data(as_text=True)
    assert "1 request logged in all" in page and 'data-testid="usage-pager"' not in page
