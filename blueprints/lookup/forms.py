"""Parsing lookup input from HTML forms and JSON bodies."""

from __future__ import annotations

from flask import current_app

from blueprints.providers.models import Provider
from blueprints.shared import inputs
from relay.keys import BadKey, clean_key, split_keys

from .service import BadInput, public_provider


def lookup_input(data) -> tuple[Provider, str]:
    """(provider, key) from a form or JSON mapping, or BadInput."""
    provider = public_provider(_text(data.get("provider")))
    try:
        return provider, clean_key(_text(data.get("key")))
    except BadKey as error:
        raise BadInput(error.code) from None


def batch_input(data) -> tuple[Provider, list[str], int]:
    """(provider, keys, skipped) from a form (a pasted blob) or JSON (a list)."""
    provider = public_provider(_text(data.get("provider")))
    raw = data.get("keys")
    if isinstance(raw, list):
        if not all(isinstance(item, str) for item in raw):
            raise BadInput("bad_field")
        raw = "\n".join(raw)
    try:
        keys, skipped = split_keys(_text(raw))
    except BadKey as error:
        raise BadInput(error.code) from None
    if len(keys) > int(current_app.config["BATCH_MAX_KEYS"]):
        raise BadInput("too_many_keys", 413)
    return provider, keys, skipped


def json_body() -> dict:
    """The request's JSON object, or BadInput (400) for anything else (BadValue: too deep)."""
    data = inputs.json_body()
    if not isinstance(data, dict):
        raise BadInput("bad_json")
    return data


def int_field(data, name: str, default: int) -> int:
    """A small whole-number form field (blank: the default; past 10,000: 10,000)."""
    return min(inputs.whole_number(data.get(name), name, default=default), 10_000)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInput("bad_field")
    return value
