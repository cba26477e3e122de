"""Admin pages: providers, monitors and users, admins only, CSRF, test connection, last admin."""

from __future__ import annotations

import re
import socket

import pytest
from sqlalchemy import select

from blueprints.auth.service import create_user, find_user, list_users
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.keys.service import add_key
from blueprints.providers.models import Provider
from blueprints.providers.service import add_provider, find_provider, list_providers
from blueprints.status.models import Incident, Notice
from database import db, utcnow
from tests.conftest import PASSWORD, login, make_app
from tests.fakerelay import DEFAULT_VERSIONS, FLAVORS

HX = {"HX-Request": "true"}


@pytest.fixture
def world(app, make_user, provider):
    """An admin (root), a member (alice) and the 'fake' provider; returns their ids."""
    make_user("root", admin=True)
    make_user("alice")
    with app.app_context():
        return {"pid": find_provider("fake").id, "uid": find_user("alice").id}


@pytest.fixture
def admin(client, world):
    """The test client, logged in as the admin."""
    assert login(client, "root").status_code == 303
    return client


def snapshot(app) -> tuple:
    """Everything an admin POST could change."""
    with app.app_context():
        providers = [(p.name, p.base_url, p.hidden, p.cny_rate) for p in list_providers()]
        users = [(u.username, u.role, u.active, u.password_hash) for u in list_users()]
        return providers, users


def by_name(app, name: str) -> Provider | None:
    """A provider row, detached, for assertions."""
    with app.app_context():
        provider = find_provider(name, include_hidden=True)
        if provider is not None:
            db.session.expunge(provider)
        return provider


ROUTES = [
    ("get", "/admin/"),
    ("get", "/admin/providers"),
    ("get", "/admin/providers/{pid}/edit"),
    ("get", "/admin/providers/{pid}/remove"),
    ("get", "/admin/users"),
    ("post", "/admin/providers"),
    ("post", "/admin/providers/{pid}/edit"),
    ("post", "/admin/providers/{pid}/visibility"),
    ("post", "/admin/providers/{pid}/remove"),
    ("post", "/admin/providers/{pid}/test"),
    ("post", "/admin/users"),
    ("post", "/admin/users/{uid}/active"),
    ("post", "/admin/users/{uid}/role"),
    ("post", "/admin/users/{uid}/password"),
    ("get", "/admin/status/{pid}"),
    ("post", "/admin/status/{pid}"),
    ("post", "/admin/status/{pid}/notices"),
]


@pytest.mark.parametrize("method,path", ROUTES)
def test_it_sends_anonymous_visitors_to_the_login(app, client, world, method, path):
    """Anonymous: a redirect to /login (htmx: 401 + HX-Redirect); nothing changes."""
    url = path.format(**world)
    before = snapshot(app)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    htmx = getattr(client, method)(url, headers=HX)
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"].startswith("/login")
    assert b"<form" not in htmx.data
    assert snapshot(app) == before


@pytest.mark.parametrize("method,path", ROUTES)
def test_it_forbids_members(app, client, world, method, path):
    """A logged-in member gets 403 on every admin URL, and nothing changes."""
    login(client, "alice")
    before = snapshot(app)
    form = {
        "name": "x",
        "base_url": "https://x.example",
        "hidden": "1",
        "force": "1",
        "username": "mallory",
        "password": PASSWORD,
        "role": "admin",
        "active": "0",
    }
    response = getattr(client, method)(path.format(**world), data=form)
    assert response.status_code == 403
    assert snapshot(app) == before


@pytest.mark.parametrize("method,path", ROUTES)
def test_it_lets_admins_in(admin, world, method, path):
    """The admin reaches every URL (a 400 for an empty form is fine; never 401/403/500)."""
    response = getattr(admin, method)(path.format(**world))
    assert response.status_code in (200, 302, 303, 400)
    assert "/login" not in response.headers.get("Location", "")


def csrf_token(html: str) -> str:
    """The token from a rendered form."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_it_enforces_csrf_on_admin_posts(tmp_path):
    """With CSRF on, an admin POST without the token is a 400 and changes nothing."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        create_user("root", PASSWORD, admin=True)
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    logged = client.post(
        "/login", data={"username": "root", "password": PASSWORD, "csrf_token": token}
    )
    assert logged.status_code == 303
    form = {"name": "x", "base_url": "https://x.example"}
    refused = client.post("/admin/providers", data=form)
    assert refused.status_code == 400
    assert "expired" in refused.get_data(as_text=True)
    assert (
        client.post("/admin/users", data={"username": "u", "password": PASSWORD}).status_code == 400
    )
    with app.app_context():
        assert list_providers() == [] and find_user("u") is None
    page = client.get("/admin/providers").get_data(as_text=True)
    accepted = client.post("/admin/providers", data={**form, "csrf_token": csrf_token(page)})
    assert accepted.status_code == 303
    with app.app_context():
        assert [p.name for p in list_providers()] == ["x"]


# -- providers ----------------------------------------------------------------------------------


def test_it_adds_a_provider_from_the_page(app, admin, fake):
    """The add form normalises the URL and stores rate and budget; the table shows them."""
    form = {
        "name": "juhe",
        "base_url": fake.url + "/v1/chat/completions",
        "cny_rate": "3.2",
        "budget": "100/60",
    }
    response = admin.post("/admin/providers", data=form)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/providers"
    added = by_name(app, "juhe")
    assert (added.base_url, added.cny_rate, added.hidden) == (fake.url, 3.2, False)
    assert (added.request_budget, added.budget_seconds) == (100, 60)
    page = admin.get("/admin/providers").get_data(as_text=True)
    row = re.search(r'<tr id="provider-\d+" data-provider="juhe">(.*?)</tr>', page, re.S).group(1)
    assert fake.url in row and "100/60s" in row and "3.2" in row
    assert "Added juhe." in page
    assert 'data-provider="fake"' in page  # the fixture's provider, with the default budget
    assert "150/180s" in page


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"base_url": "ftp://x.example"}, "http(s) URL"),
        ({"base_url": "http://[::1"}, "http(s) URL"),
        ({"base_url": ""}, "http(s) URL"),
        ({"name": ""}, "1-80 characters"),
        ({"name": "FAKE"}, "exists already"),
        ({"cny_rate": "lots"}, "CNY rate"),
        ({"cny_rate": "-2"}, "CNY rate"),
        ({"budget": "150"}, "request budget"),
        ({"budget": "0/180"}, "request budget"),
        ({"budget": "150/0"}, "request budget"),
        ({"budget": "1.5/60"}, "request budget"),
    ],
)
def test_it_refuses_bad_provider_input_with_a_message(app, admin, fields, message):
    """Bad input: 400, the message in the form, the typed values kept, nothing added."""
    before = snapshot(app)
    form = {"name": "new", "base_url": "https://new.example", **fields}
    response = admin.post("/admin/providers", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    error = re.search(r'data-testid="form-error">([^<]*)<', html).group(1)
    assert message in error
    assert f'value="{form["name"]}"' in html
    assert snapshot(app) == before


def test_it_edits_a_provider(app, admin, world, fake):
    """The edit page shows the current values; saving renames, moves, hides and unlimits."""
    url = f"/admin/providers/{world['pid']}/edit"
    page = admin.get(url).get_data(as_text=True)
    assert 'value="fake"' in page and f'value="{fake.url}"' in page and 'value="150/180"' in page
    form = {
        "name": "renamed",
        "base_url": fake.url + "/v1/",
        "cny_rate": "",
        "budget": "0",
        "hidden": "1",
    }
    assert admin.post(url, data=form).status_code == 303
    edited = by_name(app, "renamed")
    assert (edited.id, edited.base_url, edited.hidden, edited.cny_rate) == (
        world["pid"],
        fake.url,
        True,
        None,
    )
    assert edited.request_budget == 0
    assert "unlimited" in admin.get("/admin/providers").get_data(as_text=True)
    assert 'value="0"' in admin.get(url).get_data(as_text=True)


def test_it_refuses_a_bad_edit_and_changes_nothing(app, admin, world):
    """A duplicate name on edit: 400 with the message; the row keeps every old value."""
    with app.app_context():
        add_provider("other", "https://other.example")
    before = snapshot(app)
    form = {"name": "Other", "base_url": "https://moved.example", "budget": "5/5"}
    response = admin.post(f"/admin/providers/{world['pid']}/edit", data=form)
    assert response.status_code == 400
    assert "exists already" in response.get_data(as_text=True)
    assert snapshot(app) == before
    assert by_name(app, "fake").request_budget == 150
    assert admin.get("/admin/providers/999/edit").status_code == 404


def test_it_hides_and_shows_a_provider(app, admin, client, world):
    """Hide takes it out of the public lookup; Show puts it back."""
    url = f"/admin/providers/{world['pid']}/visibility"
    hidden = admin.post(url, data={"hidden": "1"}, follow_redirects=True)
    assert "fake is hidden." in hidden.get_data(as_text=True)
    assert by_name(app, "fake").hidden is True
    assert "fake — " not in admin.get("/").get_data(as_text=True)
    assert admin.post(url, data={"hidden": "0"}).status_code == 303
    assert by_name(app, "fake").hidden is False
    assert "fake — " in admin.get("/").get_data(as_text=True)


def test_it_removes_an_unused_provider_after_a_confirm_page(app, admin, world):
    """GET asks (no keys use it), POST removes."""
    url = f"/admin/providers/{world['pid']}/remove"
    ask = admin.get(url).get_data(as_text=True)
    assert "Remove fake?" in ask and "No tracked key uses this provider." in ask
    assert 'name="force"' not in ask
    assert admin.post(url).status_code == 303
    assert by_name(app, "fake") is None
    assert admin.post(url).status_code == 404


def track(app, fake, username: str = "alice", provider: str = "fake") -> int:
    """A tracked key with one balance sample; returns the key's id."""
    with app.app_context():
        key = add_key(
            find_user(username),
            find_provider(provider, include_hidden=True),
            fake.add_token().key,
            label="team",
        )
        db.session.add(BalanceSample(key_id=key.id, status="active", remaining=1.0, unit="USD"))
        db.session.commit()
        return key.id


def rows_of(app, model) -> int:
    """How many rows a table holds."""
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_it_removes_a_provider_in_use_only_when_confirmed(app, admin, world, fake):
    """With tracked keys: the confirm page says how many; without force 400; with force all go."""
    track(app, fake)
    track(app, fake)
    url = f"/admin/providers/{world['pid']}/remove"
    ask = admin.get(url).get_data(as_text=True)
    assert "2 tracked keys use this provider." in ask and 'name="force"' in ask
    table = admin.get("/admin/providers").get_data(as_text=True)
    assert re.search(r'data-provider="fake">.*?data-testid="keys">2</td>', table, re.S)
    refused = admin.post(url)
    assert refused.status_code == 400
    assert "Tracked keys use this provider" in refused.get_data(as_text=True)
    assert by_name(app, "fake") is not None
    assert (rows_of(app, TrackedKey), rows_of(app, BalanceSample)) == (2, 2)
    assert admin.post(url, data={"force": "1"}).status_code == 303
    assert by_name(app, "fake") is None
    assert (rows_of(app, TrackedKey), rows_of(app, BalanceSample)) == (0, 0)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_tests_the_connection_to_each_relay_flavor(app, admin, relays, flavor):
    """Test connection reads /api/status fresh each time and names the relay and version."""
    relay = relays(flavor)
    with app.app_context():
        pid = add_provider(flavor, relay.url).id
    labels = {
        "one-api": "one-api",
        "new-api-2025": "new-api (2025)",
        "new-api-2026": "new-api (2026)",
    }
    for _ in range(2):
        response = admin.post(f"/admin/providers/{pid}/test", headers=HX)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert f'data-generation="{flavor}"' in html and 'data-ok="true"' in html
        assert f'data-testid="probe-relay">{labels[flavor]}<' in html
        assert f'data-testid="probe-version">{DEFAULT_VERSIONS[flavor]}<' in html
        assert "<html" not in html  # a fragment for htmx
        assert re.search(r"\d+ ms", html)
    assert len(relay.requests_to("/api/status")) == 2
    page = admin.post(f"/admin/providers/{pid}/test").get_data(as_text=True)
    assert "<html" in page and f'data-generation="{flavor}"' in page and "providers-table" in page


def dead_url() -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "fault,message",
    [
        (None, "Cannot connect"),
        ("html", "web page, not the relay API"),
        ("malformed", "not JSON"),
        ("500", "server error"),
        ("timeout", "did not answer in time"),
    ],
)
def test_it_explains_a_failed_connection_test(app, admin, fake, fault, message):
    """A dead port, or a relay set as new-api with a broken /api/status: a clear message."""
    if fault:
        fake.set_fault("/api/status", fault)
    with app.app_context():
        # Auto-detection would call a relay whose /api/status is broken OpenAI-compatible
        # (tests/test_providers_kind.py); as new-api, its status page must work.
        url, kind = (fake.url, "new-api") if fault else (dead_url(), "auto")
        pid = add_provider("probe", url, kind=kind).id
    response = admin.post(f"/admin/providers/{pid}/test", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-ok="false"' in html and "data-generation" not in html
    assert message in re.search(r'data-testid="probe-error">([^<]*)<', html).group(1)


# -- users --------------------------------------------------------------------------------------


def user(app, name: str):
    """(role, active) of a user, or None."""
    with app.app_context():
        found = find_user(name)
        return None if found is None else (found.role, found.active)


def test_it_adds_users_who_can_then_log_in(app, admin):
    """The add form creates a member or an admin with the given password."""
    form = {"username": "bob", "password": "bob-password", "role": "member"}
    added = admin.post("/admin/users", data=form, follow_redirects=True)
    assert "Added bob." in added.get_data(as_text=True)
    assert 'data-user="bob" data-role="member" data-active="true"' in added.get_data(as_text=True)
    form = {"username": "carol", "password": "carol-password", "role": "admin"}
    assert admin.post("/admin/users", data=form).status_code == 303
    assert (user(app, "bob"), user(app, "carol")) == (("member", True), ("admin", True))
    other = app.test_client()
    assert login(other, "carol", "carol-password").status_code == 303
    assert other.get("/admin/users").status_code == 200


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"password": "short"}, "at least 8"),
        ({"username": "alice"}, "taken"),
        ({"username": "two words"}, "without spaces"),
        ({"username": ""}, "without spaces"),
        ({"role": "owner"}, "admin or member"),
    ],
)
def test_it_refuses_bad_user_input_with_a_message(app, admin, fields, message):
    """Bad input: 400 with the message; the username is kept, the password never echoed."""
    before = snapshot(app)
    form = {"username": "dave", "password": "dave-secret-pw", "role": "member", **fields}
    response = admin.post("/admin/users", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in re.search(r'data-testid="form-error">([^<]*)<', html).group(1)
    assert form["password"] not in html
    assert snapshot(app) == before


def test_it_disables_and_enables_a_user(app, admin, world):
    """Disabling ends the user's session and refuses their login; enabling lets them back."""
    alice = app.test_client()
    login(alice, "alice")
    assert alice.get("/keys").status_code == 200
    url = f"/admin/users/{world['uid']}/active"
    assert admin.post(url, data={"active": "0"}).status_code == 303
    assert user(app, "alice") == ("member", False)
    assert alice.get("/keys").status_code == 302
    assert login(alice, "alice").status_code == 401
    assert admin.post(url, data={"active": "1"}).status_code == 303
    assert login(alice, "alice").status_code == 303


def test_it_resets_a_password(app, admin, world):
    """The admin sets a new password: the new one works, the old one no longer does."""
    url = f"/admin/users/{world['uid']}/password"
    short = admin.post(url, data={"password": "short"})
    assert short.status_code == 400 and "at least 8" in short.get_data(as_text=True)
    assert admin.post(url, data={"password": "brand-new-password"}).status_code == 303
    other = app.test_client()
    assert login(other, "alice").status_code == 401
    assert login(other, "alice", "brand-new-password").status_code == 303
    assert admin.post("/admin/users/999/password", data={"password": "x" * 9}).status_code == 404


def test_it_changes_roles(app, admin, world):
    """Member → admin opens the admin pages to them; back to member closes them."""
    alice = app.test_client()
    login(alice, "alice")
    assert alice.get("/admin/providers").status_code == 403
    url = f"/admin/users/{world['uid']}/role"
    assert admin.post(url, data={"role": "admin"}).status_code == 303
    assert alice.get("/admin/providers").status_code == 200
    assert admin.post(url, data={"role": "member"}).status_code == 303
    assert alice.get("/admin/providers").status_code == 403
    bad = admin.post(url, data={"role": "root"})
    assert bad.status_code == 400 and user(app, "alice") == ("member", True)


def test_it_keeps_the_last_active_admin(app, admin, make_user):
    """The last active admin cannot disable or demote themself; with another admin they can."""
    with app.app_context():
        root = find_user("root").id
    for path, form in (
        (f"/admin/users/{root}/active", {"active": "0"}),
        (f"/admin/users/{root}/role", {"role": "member"}),
    ):
        response = admin.post(path, data=form)
        assert response.status_code == 400
        assert "no active admin" in response.get_data(as_text=True)
        assert user(app, "root") == ("admin", True)
    # A disabled admin does not count.
    make_user("bob", admin=True)
    with app.app_context():
        bob = find_user("bob").id
    assert admin.post(f"/admin/users/{bob}/active", data={"active": "0"}).status_code == 303
    assert admin.post(f"/admin/users/{root}/role", data={"role": "member"}).status_code == 400
    assert admin.post(f"/admin/users/{bob}/active", data={"active": "1"}).status_code == 303
    assert admin.post(f"/admin/users/{root}/role", data={"role": "member"}).status_code == 303
    assert user(app, "root") == ("member", True)
    assert admin.get("/admin/users").status_code == 403


def test_it_keeps_the_connection_test_inside_the_request_budget(app, admin, fake):
    """With a budget of 1 call per minute the second test is refused by us, not sent."""
    with app.app_context():
        pid = add_provider("tight", fake.url, budget=(1, 60)).id
    first = admin.post(f"/admin/providers/{pid}/test", headers=HX).get_data(as_text=True)
    assert 'data-ok="true"' in first
    second = admin.post(f"/admin/providers/{pid}/test", headers=HX).get_data(as_text=True)
    assert 'data-ok="false"' in second and "request budget is used up" in second
    assert len(fake.requests_to("/api/status")) == 1


def test_it_serves_the_tables_alone_to_htmx(admin):
    """A page includes its partial; htmx gets only the partial."""
    for url, table in (("/admin/providers", "providers-table"), ("/admin/users", "users-table")):
        page = admin.get(url).get_data(as_text=True)
        part = admin.get(url, headers=HX).get_data(as_text=True)
        assert "<html" in page and table in page
        assert "<html" not in part and table in part
        assert admin.get(url).headers["Cache-Control"] == "no-store"


# -- monitors -----------------------------------------------------------------------------------


def test_it_ends_notices_and_adds_incident_notes_on_the_monitor_page(app, admin, world):
    """A notice for every provider ends back on the list; a note needs 1 to 2000 characters."""
    pid = world["pid"]
    with app.app_context():
        incident = Incident(provider_id=pid, state="down", cause="timeout", started_at=utcnow())
        db.session.add(incident)
        db.session.commit()
        iid = incident.id
    form = {"kind": "announcement", "title": "soon", "scope": "all"}
    published = admin.post(f"/admin/status/{pid}/notices", data=form)
    assert published.headers["Location"] == f"/admin/status/{pid}"
    with app.app_context():
        nid = db.session.scalar(select(Notice.id))
    assert admin.post(f"/admin/status/notices/{nid}/end").headers["Location"] == "/admin/providers"
    assert admin.post(f"/admin/status/incidents/{iid}/notes", data={"body": " "}).status_code == 400
    noted = admin.post(f"/admin/status/incidents/{iid}/notes", data={"body": "fixed upstream"})
    assert noted.headers["Location"] == f"/admin/status/{pid}"
    page = admin.get(f"/admin/status/{pid}").get_data(as_text=True)
    assert "fixed upstream" in page and "soon" not in page
    assert admin.post("/admin/status/incidents/999/notes", data={"body": "x"}).status_code == 404
