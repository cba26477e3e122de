"""Security headers and a per-request CSP nonce on every response."""

from __future__ import annotations

import secrets

from flask import g, request

from .routes import bp

CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
    # Plotly (later charts) needs inline styles; no page here injects style from user input.
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@bp.before_app_request
def make_nonce() -> None:
    """A fresh nonce for any script tag rendered in this request."""
    g.csp_nonce = secrets.token_urlsafe(16)


@bp.app_context_processor
def nonce_in_templates() -> dict:
    """Expose the nonce as `csp_nonce` in templates."""
    return {"csp_nonce": g.get("csp_nonce", "")}


@bp.after_app_request
def security_headers(response):
    """CSP, no sniffing, no referrer (a lookup page must not leak anything), no framing."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP.format(nonce=g.get("csp_nonce", "")))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
