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

# A poll's or lookup's reason code → what it means (My keys "Last error", the polls table); an
# unknown code is shown as it is.
ERROR_LABELS = {
    "invalid_key": _l("The relay does not know this key"),
    "exhausted": _l("Quota used up"),
    "expired": _l("Expired"),
    "disabled": _l("Disabled by the relay"),
    "user_banned": _l("The account behind the key is banned"),
    "ip_not_allowed": _l("The relay does not allow this server's IP address"),
    "forbidden": _l("The relay refused the request (403)"),
    "refused": _l("Refused, reason not stated"),
    "budget": _l("Held back by our request budget for this relay"),
    "relay_rate_limited": _l("The relay limited this server (429)"),
    "empty_response": _l("The relay answered with nothing (busy)"),
    "blocked_address": _l("Not called: the relay's address is private"),
    "timeout": _l("The relay did not answer in time"),
    "reset": _l("The relay dropped the connection"),
    "unreachable": _l("The relay could not be reached"),
    "connection_error": _l("The connection to the relay failed"),
    "no_balance_endpoint": _l("The relay has no balance endpoint"),
    "no_key_db": _l("The relay cannot check keys (no database)"),
    "malformed": _l("The relay's answer could not be read"),
    "broken": _l("The relay's answer could not be read"),
    "relay_error": _l("The relay reported an error"),
    "no_answer": _l("No endpoint answered"),
    "undecryptable": _l("The stored key cannot be decrypted (the encryption key changed)"),
    "internal_error": _l("relaydash failed while polling this key"),
}


def error_label(code: str | None) -> str:
    """The words for a reason code ('' for none; the code itself when it is unknown)."""
    if not code:
        return ""
    return str(ERROR_LABELS.get(code, code))
