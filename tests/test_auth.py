"""Accounts: log in/out, throttling, the users CLI, htmx-aware login redirects."""

from __future__ import annotations

import pytest

from app import DEFAULTS
from blueprints.auth.access import load_user
from blueprints.auth.service import create_user, find_user
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


def _from(app, address: str):
    """A test client whose requests come from this address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _throttled_app(tmp_path, **limits):
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, **limits)
    with app.app_context():
        create_user("alice", PASSWORD)
        create_user("bob", PASSWORD)
    return app


def test_it_lets_the_user_in_while_an_attacker_is_locked_out(tmp_path):
    """An attacker failing for alice is stopped; alice from her own client logs in fine."""
    app = _throttled_app(tmp_path)  # the default limits
    attacker, alice = _from(app, "203.0.113.66"), _from(app, "198.51.100.7")
    codes = [login(attacker, "alice", f"guess {n}").status_code for n in range(10)]
    assert codes == [401] * 5 + [429] * 5
    assert login(attacker, "alice").status_code == 429  # the right password, from there
    refused = login(attacker, "ALICE ", "guess")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Too many login attempts" in refused.get_data(as_text=True)
    assert login(alice, "alice").status_code == 303
    assert alice.get("/keys").status_code == 200


def test_it_counts_only_failures_per_client_and_username(tmp_path):
    """Successes do not count; another account from the failing client is not held back."""
    app = _throttled_app(tmp_path, LOGIN_FAILURE_RATE_LIMIT="2/minute")
    client = _from(app, "198.51.100.7")
    assert [login(client, "alice").status_code for _ in range(4)] == [303] * 4
    assert [login(client, "alice", "typo").status_code for _ in range(3)] == [401, 401, 429]
    assert login(client, "bob").status_code == 303


def test_it_keeps_a_loose_per_username_limit_across_clients(tmp_path):
    """Many clients each under the tight limit still meet the per-username one."""
    app = _throttled_app(tmp_path, LOGIN_USER_RATE_LIMIT="6/hour")
    for n in range(3):
        attacker = _from(app, f"203.0.113.{n}")
        assert [login(attacker, "alice", "guess").status_code for _ in range(2)] == [401, 401]
    assert login(_from(app, "198.51.100.7"), "alice").status_code == 429
    assert login(_from(app, "198.51.100.7"), "bob").status_code == 303


def test_it_tells_clients_apart_behind_a_trusted_proxy(tmp_path):
    """With TRUSTED_PROXIES=1 the client is the proxy's X-Forwarded-For, not the proxy."""
    app = _throttled_app(tmp_path, TRUSTED_PROXIES=1)
    proxy = app.test_client()  # every request comes from 127.0.0.1, the proxy

    def via(address, *args):
        data = {"username": args[0], "password": args[1] if len(args) > 1 else PASSWORD}
        return proxy.post("/login", data=data, headers={"X-Forwarded-For": address})

    assert {via("203.0.113.66", "alice", "guess").status_code for _ in range(8)} == {401, 429}
    assert via("198.51.100.7", "alice").status_code == 303


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


def _copy_session(source, target) -> None:
    """Put source's session cookie into target (what a thief with a copy of the cookie does)."""
    target.set_cookie("session", source.get_cookie("session").value)


def test_it_refuses_a_session_cookie_copied_before_logout(app, make_user):
    """Logout ends the session on the server: a copy of the cookie taken before is refused."""
    make_user("alice")
    browser, thief = app.test_client(), app.test_client()
    login(browser, "alice")
    _copy_session(browser, thief)
    assert thief.get("/keys").status_code == 200  # the copy works while the session lives
    assert browser.post("/logout").status_code == 303
    assert thief.get("/keys").status_code == 302
    assert thief.get("/keys", headers={"HX-Request": "true"}).status_code == 401
    assert login(browser, "alice").status_code == 303  # logging in again works
    assert browser.get("/keys").status_code == 200
    assert thief.get("/keys").status_code == 302  # and does not revive the old cookie


def test_it_refuses_a_session_cookie_copied_before_a_password_change(app, make_user):
    """An admin's password reset ends every session of that user, copies included."""
    make_user("root", admin=True)
    make_user("alice")
    admin, browser, thief = app.test_client(), app.test_client(), app.test_client()
    login(admin, "root")
    login(browser, "alice")
    _copy_session(browser, thief)
    with app.app_context():
        alice = find_user("alice").id
    reset = admin.post(f"/admin/users/{alice}/password", data={"password": "brandnew123"})
    assert reset.status_code < 400
    assert browser.get("/keys").status_code == 302
    assert thief.get("/keys").status_code == 302
    assert admin.get("/keys").status_code == 200  # other users' sessions live on


def test_it_keeps_a_disabled_users_old_sessions_dead_after_enabling(app, make_user):
    """Disabling ends the sessions; enabling again does not bring a copied cookie back."""
    make_user("alice")
    browser, thief = app.test_client(), app.test_client()
    login(browser, "alice")
    _copy_session(browser, thief)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "disable", "alice"]).exit_code == 0
    assert runner.invoke(args=["users", "enable", "alice"]).exit_code == 0
    assert thief.get("/keys").status_code == 302
    assert login(browser, "alice").status_code == 303


@pytest.mark.parametrize("session_id", ["1", "1.x", "².0", "1.²", "9" * 30 + ".0", "1.0.0", ""])
def test_it_refuses_malformed_session_ids(app, make_user, session_id):
    """A session id not of the form id.generation never finds a user (nor raises)."""
    make_user("alice")
    with app.test_request_context():
        assert load_user(session_id) is None
        assert load_user("1.0") is not None


def _session_cookie(response) -> str:
    """The Set-Cookie header that carries the session."""
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def test_it_marks_the_session_cookie_secure_over_https_only(client, make_user):
    """HttpOnly and SameSite=Lax always; Secure over https even with SESSION_COOKIE_SECURE off."""
    make_user("alice")
    over_https = client.post(
        "/login", data={"username": "alice", "password": PASSWORD}, base_url="https://localhost"
    )
    flags = _session_cookie(over_https).split("; ")
    assert {"Secure", "HttpOnly", "SameSite=Lax"} <= set(flags)
    over_http = login(client, "alice")
    flags = _session_cookie(over_http).split("; ")
    assert {"HttpOnly", "SameSite=Lax"} <= set(flags) and "Secure" not in flags
    assert not [c for c in over_http.headers.getlist("Set-Cookie") if "remember" in c]


def test_it_marks_the_session_cookie_secure_by_default(tmp_path):
    """The production default: Secure even when the app cannot see the https (no proxy set)."""
    assert DEFAULTS["SESSION_COOKIE_SECURE"] is True
    app = make_app(tmp_path, SESSION_COOKIE_SECURE=DEFAULTS["SESSION_COOKIE_SECURE"])
    with app.app_context():
        create_user("alice", PASSWORD)
    flags = _session_cookie(login(app.test_client(), "alice")).split("; ")
    assert {"Secure", "HttpOnly", "SameSite=Lax"} <= set(flags)
    for flag in ("SECURE", "HTTPONLY", "SAMESITE"):  # a remember cookie would get the same
        assert app.config[f"REMEMBER_COOKIE_{flag}"] == app.config[f"SESSION_COOKIE_{flag}"]


@pytest.mark.parametrize("proxies,secure", [(0, False), (1, True)])
def test_it_trusts_x_forwarded_proto_only_from_configured_proxies(tmp_path, proxies, secure):
    """With TRUSTED_PROXIES=1 the proxy's X-Forwarded-Proto: https makes the cookie Secure."""
    app = make_app(tmp_path, TRUSTED_PROXIES=proxies)
    with app.app_context():
        create_user("alice", PASSWORD)
    response = app.test_client().post(
        "/login",
        data={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"},
    )
    assert ("Secure" in _session_cookie(response).split("; ")) is secure
    assert ("Strict-Transport-Security" in response.headers) is secure
