"""Log in and out."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from blueprints.shared import safe_next
from extensions import limiter

from .service import authenticate, end_sessions

bp = Blueprint("auth", __name__, cli_group="users")


def _username_key() -> str:
    # Per-username throttle, so one account cannot be guessed at from many addresses.
    return "user:" + (request.form.get("username") or "").strip().lower()


@bp.get("/login")
def login():
    """The login form."""
    if current_user.is_authenticated:
        return redirect(url_for("keys.index"))
    return render_template("auth/login.html", next=safe_next(request.args.get("next")))


@bp.post("/login")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@limiter.limit(lambda: current_app.config["LOGIN_USER_RATE_LIMIT"], key_func=_username_key)
def login_post():
    """Check the password; one generic message for every failure."""
    user = authenticate(request.form.get("username"), request.form.get("password"))
    if user is None:
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", next=safe_next(request.form.get("next"))), 401
    login_user(user)
    wanted = request.form.get("next")
    return redirect(safe_next(wanted) if wanted else url_for("keys.index"), code=303)


@bp.post("/logout")
def logout():
    """Log out (a POST, so a link or an image cannot do it), ending the user's sessions on the
    server too: a copy of the cookie taken before stops working."""
    if current_user.is_authenticated:
        end_sessions(current_user._get_current_object())
    logout_user()
    return redirect(url_for("lookup.index"), code=303)
