"""Security headers and a per-request CSP nonce on every response; cookie flags and proxies."""

from __future__ import annotations

import secrets

from flask import Flask, abort, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from .routes import bp

CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
    # Plotly (later charts) needs inline styles; no page here injects style from user input.
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors {ancestors}"
)
# Endpoints made to be framed by other sites (the status widget: no script, no session, no
# form). Every other page keeps frame-ancestors 'none' and X-Frame-Options: DENY.
FRAMEABLE = frozenset({"status.widget"})


@bp.before_app_request
def make_nonce() -> None:
    """A fresh nonce for any script tag rendered in this request."""
    g.csp_nonce = secrets.token_urlsafe(16)


@bp.before_app_request
def refuse_nul() -> None:
    """400 for a NUL character anywhere in the path, query or form: no page takes one, and
    PostgreSQL cannot store it in text (it would be a 500 there). A JSON body may carry one in a
    member the API does not read; the fields it reads refuse it themselves (a key's format, a
    provider's name)."""
    fields = (*request.args.items(multi=True), *request.form.items(multi=True))
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in fields):
        abort(400)


@bp.app_context_processor
def nonce_in_templates() -> dict:
    """Expose the nonce as `csp_nonce` in templates."""
    return {"csp_nonce": g.get("csp_nonce", "")}


@bp.after_app_request
def security_headers(response):
    """CSP, no sniffing, no referrer (a lookup page must not leak anything), no framing (but
    for FRAMEABLE endpoints)."""
    headers = response.headers
    framed = request.endpoint in FRAMEABLE and response.status_code < 400
    ancestors = "*" if framed else "'none'"
    csp = CSP.format(nonce=g.get("csp_nonce", ""), ancestors=ancestors)
    headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if not framed:
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


class SessionCookie(SecureCookieSessionInterface):
    """The session cookie is `Secure` when SESSION_COOKIE_SECURE says so or the request came
    over https (behind a proxy: with TRUSTED_PROXIES set), so https never sends it without."""

    def get_cookie_secure(self, app: Flask) -> bool:
        secure = super().get_cookie_secure(app)
        return secure or (has_request_context() and request.is_secure)


def init_app(app: Flask) -> None:
    """Cookie flags for the session and remember cookies; X-Forwarded-* from trusted proxies."""
    app.session_interface = SessionCookie()
    # Login never asks for a remember cookie; should one appear, it gets the session's flags.
    for flag in ("SECURE", "HTTPONLY", "SAMESITE"):
        app.config.setdefault(f"REMEMBER_COOKIE_{flag}", app.config[f"SESSION_COOKIE_{flag}"])
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        # The client's address (rate limits, login lockout) and https (cookies, HSTS) come from
        # the last `proxies` X-Forwarded-For/-Proto entries, which our own proxies wrote.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
