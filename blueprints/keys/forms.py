"""Reading the add/edit key forms (minutes in the form, seconds in the database)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from blueprints.providers.service import find_provider
from blueprints.shared.inputs import MAX_ID, BadValue, decimal, whole_number
from blueprints.shared.texts import KEY_INPUT_ERRORS

from .service import KeyInputError

MESSAGES = {
    "missing_key": _l("Paste the key to track."),
    "bad_key": KEY_INPUT_ERRORS["bad_key"],
    "duplicate_key": _l("You already track this key."),
    "unknown_provider": _l("Choose a provider from the list."),
    "bad_label": _l("The label must be 1-80 characters."),
    "bad_threshold": _l("The low-balance threshold must be a number of at least 0."),
    "bad_warn_days": _l("Expiry warning days must be between 0 and 365."),
    "bad_interval": _l("The poll interval must be between 1 and 1440 minutes."),
    "bad_number": _l("A number field holds something that is not a number."),
}


def settings(form) -> dict:
    """label, low_threshold, expiry_warn_days and poll_interval (seconds) from a form."""
    return {
        "label": (form.get("label") or "").strip(),
        "low_threshold": _number(form.get("low_threshold"), decimal),
        "expiry_warn_days": _number(form.get("expiry_warn_days"), _signed, 7),
        "poll_interval": _interval(form.get("poll_minutes")),
    }


def new_key(form, include_hidden: bool = True) -> dict:
    """Everything the add form holds: provider, key and settings."""
    provider = find_provider(form.get("provider"), include_hidden=include_hidden)
    if provider is None:
        raise KeyInputError("unknown_provider")
    values = settings(form)
    values["label"] = values["label"] or ""
    return {"provider": provider, "raw_key": form.get("key") or "", **values}


def _interval(text) -> int:
    # Range-check minutes before multiplying: 1e308 × 60 overflows.
    minutes = _number(text, decimal, 10)
    if not 1 <= minutes <= 1440:
        raise KeyInputError("bad_interval")
    return round(minutes * 60)


def _signed(text, field: str, default=None) -> int | None:
    # Any whole number here; the range is the feature's check, with its own message.
    return whole_number(text, field, low=-MAX_ID, default=default)


def _number(text, parse, default=None):
    """A finite number through the input layer; its refusal becomes "bad_number"."""
    try:
        return parse(text, "number", default=default)
    except BadValue as error:
        raise KeyInputError("bad_number") from error
