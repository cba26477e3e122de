"""Helpers every feature uses: htmx-aware rendering, JSON errors, no-store."""

from __future__ import annotations

import json

from flask import jsonify, render_template, request

from extensions import htmx


def render_htmx(page: str, partial: str, **context) -> str:
    """The partial for an htmx request, the full page (which includes it) otherwise."""
    return render_template(partial if htmx else page, **context)


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
