"""Log in and out."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user

from blueprints.shared import safe_next
from extensions import limiter

from .service import authenticate, end_sessions

bp = Blueprint("auth", __name__, cli_group="users")


def _username() -> str:
    # As find_user compares it; cut just past the longest username, so junk keys stay short.
    return (request.form.get("username") or "").strip().lower()[:65]


def _client_username_key() -> str:
    # The tight limit: one client guessing at one account.
    return f"client:{get_remote_address()} user:{_username()}"


def _username_key() -> str:
    # The loose limit: one account guessed at from many clients.
    return "user:" + _username()


def _failed(response) -> bool:
    # Only wrong guesses count towards the two failure limits (not successes, not 429s): an
    # attacker's failures hold back their own client, and everyone only past the loose limit.
    # Counted after the answer, so parallel guesses may overshoot by a few; LOGIN_RATE_LIMIT,
    # counted before, bounds that.
    return response.status_code == 401


@bp.get("/login")
def login():
    """The login form."""
    if current_user.is_authenticated:
        return redirect(url_for("keys.index"))
    return render_template("auth/login.html", next=safe_next(request.args.get("next")))


@bp.post("/login")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@limiter.limit(
    lambda: current_app.config["LOGIN_FAILURE_RATE_LIMIT"],
    key_func=_client_username_key,
    deduct_when=_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_USER_RATE_LIMIT"], key_func=_username_key, deduct_when=_failed
)
def login_post():
    """Check the password; one generic message for every failure."""
    user = authenticate(request.form.get("username"), request.form.get("password"))
    if user is None:
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", next=safe_next(request.form.get("next"))), 401
    login_user(user)
    wanted = request.form.get("next")
    return redirect(safe_next(wanted) if wanted else url_for("keys.index"), code=303)


@bp.errorhandler(429)
def login_throttled(_error):
    """Too many attempts: the login form again, saying so (limiter adds Retry-After)."""
    flash(_("Too many login attempts. Wait a few minutes and try again."), "error")
    return render_template("auth/login.html", next=safe_next(request.form.get("next"))), 429


@bp.post("/logout")
def logout():
    """Log out (a POST, so a link or an image cannot do it), ending the user's sessions on the
    server too: a copy of the cookie taken before stops working."""
    if current_user.is_authenticated:
        end_sessions(current_user._get_current_object())
    logout_user()
    return redirect(url_for("lookup.index"), code=303)
