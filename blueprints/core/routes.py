"""Language switch and the error pages (HTML, htmx fragment or JSON)."""

from __future__ import annotations

from contextlib import suppress

from flask import Blueprint, current_app, g, redirect, request, url_for
from flask_babel import format_datetime, format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from blueprints.shared import json_error, render_htmx, safe_next, wants_json
from blueprints.shared.inputs import BadValue, message
from blueprints.shared.times import time_tag, zone_name, zone_note
from database import db, utcnow

from .i18n import COOKIE, LANGUAGES

ONE_YEAR = 365 * 24 * 3600

bp = Blueprint("core", __name__, cli_group=None)


@bp.post("/lang")
def set_language():
    """Remember the chosen language in a cookie and go back."""
    response = redirect(safe_next(request.form.get("next")), code=303)
    choice = request.form.get("lang")
    if choice in LANGUAGES:
        response.set_cookie(COOKIE, choice, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return response


def error_text(status: int) -> tuple[str, str, str]:
    """(code, title, message) for an HTTP status, in the request's language."""
    texts = {
        400: ("bad_request", _("Bad request"), _("The request could not be understood.")),
        403: ("forbidden", _("Not allowed"), _("This page is for admins.")),
        404: ("not_found", _("Page not found"), _("There is nothing at this address.")),
        405: ("method_not_allowed", _("Not allowed"), _("This address does not accept that.")),
        413: ("too_large", _("Too large"), _("The request is too large. Send less at once.")),
        429: (
            "rate_limited",
            _("Too many requests"),
            _("You are going too fast. Wait a minute and try again."),
        ),
        503: (
            "database_unavailable",
            _("Back in a moment"),
            _("The database is not answering right now. Try again in a few seconds."),
        ),
    }
    default = ("server_error", _("Something went wrong"), _("Our side failed. Try again soon."))
    return texts.get(status, default)


def render_error(status: int, text: str | None = None, code: str | None = None):
    """One error in the form the caller can use: JSON, an htmx card or a full page."""
    default_code, title, default_text = error_text(status)
    code, text = code or default_code, text or default_text
    if wants_json():
        return json_error(code, text, status)
    return render_htmx(
        "errors/error.html", "errors/_error.html", status, status=status, title=title, message=text
    )


@bp.app_errorhandler(CSRFError)
def csrf_failed(_error):
    """A stale or missing CSRF token: ask for a reload, keep it short."""
    return render_error(400, _("This form has expired. Reload the page and try again."))


@bp.app_errorhandler(BadValue)
def bad_value(error: BadValue):
    """A number, id, date or JSON body we cannot use (shared/inputs): say which, and why."""
    return render_error(error.status, message(error), error.code)


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    """Every werkzeug HTTP error gets our page in the request's language, and its headers."""
    response = render_error(error.code or 500)
    # Allow on a 405, Retry-After on a 429 or 503, WWW-Authenticate on a 401.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@bp.app_errorhandler(OperationalError)
@bp.app_errorhandler(InterfaceError)
def database_unavailable(error: Exception):
    """The database does not answer (a restart, the network): 503 with Retry-After, not a 500.
    Pooled connections are tested before use, so the first request after it returns works."""
    current_app.logger.warning("database unavailable (%s)", type(error).__name__)
    with suppress(SQLAlchemyError):  # the connection is gone; the pool replaces it
        db.session.rollback()
    g._login_user = AnonymousUserMixin()  # the page must not ask the database who is logged in
    response = render_error(503)
    response.headers["Retry-After"] = "5"
    return response


@bp.app_errorhandler(Exception)
def server_error(error: Exception):
    """Never a stack trace for the user: log it (key-redacted), roll back, show a plain 500."""
    current_app.logger.error("unhandled %s", type(error).__name__, exc_info=error)
    db.session.rollback()
    return render_error(500)


# (endpoint, label, admins only): shown to logged-in users when the feature is installed.
MEMBER_NAV = (
    ("keys.index", _l("My keys"), False),
    ("usage.index", _l("Usage"), False),
    ("playground.index", _l("Playground"), False),
    ("alerts.index", _l("Alerts"), False),
    ("admin.providers", _l("Admin"), True),
)


def member_nav() -> list[dict]:
    """Header links for the logged-in user (a guest sees the playground when it is public)."""
    if not current_user.is_authenticated:
        if not current_app.config.get("PLAYGROUND_PUBLIC"):
            return []
        url = url_for("playground.index")
        return [{"url": url, "label": _l("Playground"), "blueprint": "playground"}]
    return [
        {"url": url_for(endpoint), "label": label, "blueprint": endpoint.split(".")[0]}
        for endpoint, label, admin_only in MEMBER_NAV
        if endpoint in current_app.view_functions and (current_user.is_admin or not admin_only)
    ]


@bp.app_context_processor
def i18n_helpers() -> dict:
    """Locale and date formatting in every template."""
    language = get_locale().language if get_locale() else "en"
    return {
        "html_lang": "zh-CN" if language == "zh" else "en",
        "format_datetime": format_datetime,
        "local_time": time_tag,  # a moment in the viewer's zone, labelled with it
        "viewer_zone": zone_name,
        "zone_note": zone_note,
        "format_timedelta": format_timedelta,
        "now": utcnow,
        "member_nav": member_nav,
    }
