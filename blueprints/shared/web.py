"""Web helpers: page or partial for htmx, JSON errors, no-store, safe redirect targets."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import Response, jsonify, make_response, render_template, request

from extensions import htmx


def render_htmx(page: str, partial: str | None, status: int = 200, /, **context) -> Response:
    """The partial for an htmx request (the full page, which includes it, otherwise)."""
    # Positional-only, so a template may still get its own `status` (the error pages do).
    name = partial if partial and htmx else page
    return make_response(render_template(name, **context), status)


def wants_json() -> bool:
    """True for the JSON API, whose errors are JSON too."""
    return request.path.startswith("/api/")


def json_error(code: str, message: str, status: int):
    """Our own request errors: always {"error": {"code", "message"}} with the right status."""
    response = jsonify(error={"code": code, "message": str(message)})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def no_store(response):
    """Mark a response that carries balances as never cacheable."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def json_attr(data) -> str:
    """Compact JSON for a data-* attribute; <, > and & escaped so it never closes a tag."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def safe_next(target: str | None) -> str:
    """A same-site path to return to (never an open redirect, never a header injection)."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return "/"
    # Browsers drop tabs/newlines and read "\\" as "/", so "/\t/evil" would become "//evil".
    if any(c.isspace() or ord(c) < 32 or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return "/"
    return target
