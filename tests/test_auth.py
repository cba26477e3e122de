"""Accounts: log in/out, throttling, the users CLI, htmx-aware login redirects."""

from __future__ import annotations

import pytest

from blueprints.auth.service import find_user
from tests.conftest import PASSWORD, login, make_app


def test_it_logs_in_and_out(client, make_user):
    """The right password logs in (303 to My keys); logout is a POST."""
    make_user("alice")
    response = login(client, "alice")
    assert response.status_code == 303 and response.headers["Location"].endswith("/keys")
    assert client.get("/keys").status_code == 200
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 303
    assert client.get("/keys").status_code == 302


@pytest.mark.parametrize("username,password", [("alice", "wrong password"), ("nobody", PASSWORD)])
def test_it_gives_one_generic_failure_message(client, make_user, username, password):
    """Wrong password and unknown user look the same."""
    make_user("alice")
    response = login(client, username, password)
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_it_refuses_disabled_users(app, client, make_user):
    """A disabled user cannot log in, and an open session stops working."""
    make_user("alice")
    login(client, "alice")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "disable", "alice"]).exit_code == 0
    assert client.get("/keys").status_code == 302
    assert login(client, "alice").status_code == 401


def test_it_throttles_logins_per_username(tmp_path, make_user):
    """Past the per-username limit the login answers 429, whatever the password."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_USER_RATE_LIMIT="3/minute")
    with app.app_context():
        from_cli = app.test_cli_runner().invoke(
            args=["users", "create", "bob", "--password-stdin"], input=PASSWORD + "\n"
        )
    assert from_cli.exit_code == 0, from_cli.output
    client = app.test_client()
    codes = [login(client, "bob", "nope").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert login(client, "BOB").status_code == 429  # same account, other spelling


def test_it_redirects_htmx_to_login_instead_of_swapping_it_in(client):
    """An htmx request to a protected view gets 401 + HX-Redirect, never a login page."""
    response = client.get("/keys", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")
    assert b"<form" not in response.data
    plain = client.get("/keys")
    assert plain.status_code == 302 and "/login?next=" in plain.headers["Location"]


def test_it_manages_users_from_the_cli(app):
    """users create (twice-prompted or stdin), list, disable, enable, set-password."""
    runner = app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "root", "--admin"], input="pw123456\npw123456\n")
    assert made.exit_code == 0, made.output
    short = runner.invoke(args=["users", "create", "x", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 8" in short.output
    assert "root\tadmin\tactive" in runner.invoke(args=["users", "list"]).output
    changed = runner.invoke(
        args=["users", "set-password", "root", "--password-stdin"], input="newpassword1\n"
    )
    assert changed.exit_code == 0
    with app.app_context():
        assert find_user("root").check_password("newpassword1")
    assert runner.invoke(args=["users", "disable", "ghost"]).exit_code != 0


def test_it_never_stores_the_password(app, make_user):
    """Only a scrypt hash is stored."""
    make_user("alice")
    with app.app_context():
        user = find_user("alice")
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "/\\evil.example"])
def test_it_never_redirects_off_site_after_login(client, make_user, target):
    """A crafted next= (tab, double slash, backslash) lands on our own site."""
    make_user("alice")
    response = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 303
    assert response.headers["Location"] in ("/", "http://localhost/")
    switch = client.post("/lang", data={"lang": "en", "next": target})
    assert switch.headers["Location"] in ("/", "http://localhost/")


def test_it_ends_sessions_when_the_password_changes(app, client, make_user):
    """A reset password logs out every existing session."""
    make_user("alice")
    login(client, "alice")
    assert client.get("/keys").status_code == 200
    runner = app.test_cli_runner()
    runner.invoke(
        args=["users", "set-password", "alice", "--password-stdin"], input="brandnew123\n"
    )
    assert client.get("/keys").status_code == 302
    assert login(client, "alice", "brandnew123").status_code == 303
