"""Who may see what: the user loader, the login redirect (htmx-aware) and admin_required."""

from __future__ import annotations

import functools
import re

from flask import abort, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from database import db
from extensions import htmx, login_manager

from .models import User

# "<user id>.<session generation>" (User.get_id); ASCII digits only, at most 18 of them.
SESSION_ID = re.compile(r"([0-9]{1,18})\.([0-9]{1,18})")


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The session's user, if its generation is still theirs: logout, a new password and
    disabling raise the generation, which ends every session issued before, server-side.
    Flask-Login asks on every request that looks at `current_user`."""
    match = SESSION_ID.fullmatch(session_id)
    user = db.session.get(User, int(match[1])) if match else None
    if user is None or user.session_generation != int(match[2]):
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    """htmx gets HX-Redirect (never a login page inside a fragment); the API gets JSON 401."""
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if htmx:
        response = jsonify(error={"code": "login_required", "message": _("Please log in.")})
        response.status_code = 401
        response.headers["HX-Redirect"] = target
        return response
    if request.path.startswith("/api/"):
        response = jsonify(error={"code": "login_required", "message": _("Please log in.")})
        response.status_code = 401
        return response
    return redirect(target)


def admin_required(view):
    """Logged in and an admin, else 403."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        # login_required lets OPTIONS through (flask-login's EXEMPT_METHODS), guests included.
        if not current_user.is_authenticated or not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
