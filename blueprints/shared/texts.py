"""Texts more than one feature shows: a key's status, and the refusals of a pasted key."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# Balance.status → label (the lookup card, My keys).
STATUS_LABELS = {
    "active": _l("Active"),
    "exhausted": _l("Used up"),
    "expired": _l("Expired"),
    "disabled": _l("Disabled"),
    "invalid": _l("Invalid key"),
    "refused": _l("Refused"),
    "rate_limited": _l("Relay busy"),
    "unreachable": _l("Relay unreachable"),
    "error": _l("Error"),
}

# Provider + key input refused (the lookup, the playground, a monitor's probe key, My keys).
KEY_INPUT_ERRORS = {
    "missing_key": _l("Paste a key first."),
    "bad_key": _l(
        "That does not look like a relay key (for example sk- followed by letters and digits)."
    ),
    "missing_provider": _l("Choose a provider."),
    "unknown_provider": _l("There is no such provider. Choose one from the list."),
}
