"""What a tracked key's relay family publishes, as far as the database knows (no relay call)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import relay
from blueprints.providers.service import known_family

from .models import TrackedKey

# Reason codes stored on an active sample (BalanceSample.error) and on the key.
NO_BALANCE = "no_balance"  # the relay publishes no balance for this key: no figures, by design
# A refusal that cannot tell invalid, used up, expired or disabled apart, on a key already known
# to be one of those: the sample keeps the key's status and says it was not checked again.
UNCHECKED = "unchecked"
# Keys whose relay publishes no balance are only checked for validity (/v1/models): the answer
# rarely changes, so never more often than this, whatever the key's own interval says.
VALIDITY_INTERVAL = 1800
GENERIC = "openai"  # the OpenAI-compatible family: models and chat only
GENERIC_LABEL = _l("OpenAI-compatible")

# What the key page says about a stored reason code (the rest are shown as the code itself).
REASON_NOTES = {
    UNCHECKED: _l(
        "The relay refused this key without saying why, so its earlier status stands: "
        "unchanged, not checked again."
    ),
    "refused": _l(
        "The relay refused this key; it is invalid, used up, expired or disabled "
        "and does not say which."
    ),
    "no_key_db": _l("This LiteLLM proxy has no key database, so it cannot check keys."),
}


def family_of_key(key: TrackedKey) -> relay.Family | None:
    """The key's relay family (admin's choice, else last detected); None when not known yet."""
    return known_family(key.provider)


def publishes_balance(key: TrackedKey) -> bool:
    """False when the key's relay publishes no balance, so no balance can be shown or watched."""
    family = family_of_key(key)
    if family is not None and not family.publishes_balance:
        return False
    return key.error != NO_BALANCE


def family_label(key: TrackedKey) -> str | None:
    """The family's display name (LiteLLM, one-api…), or None when not known yet."""
    family = family_of_key(key)
    if family is None:
        return None
    # Family labels are product names; only the generic one is words to translate.
    return str(GENERIC_LABEL) if family.name == GENERIC else family.label


def _named(family: relay.Family | None) -> str | None:
    """A label that reads as a name in a sentence; None for the generic family (an adjective)."""
    return family.label if family is not None and family.name != GENERIC else None


def no_log_note(key: TrackedKey) -> str | None:
    """Why a key has no request rows when its family keeps no per-key log; None otherwise."""
    family = family_of_key(key)
    if family is None or relay.families.LOG in family.can:
        return None
    name = _named(family)
    if name is None:
        return _("This relay publishes no per-key request log.")
    return _("%(family)s publishes no per-key request log.", family=name)


def no_balance_note(key: TrackedKey) -> str | None:
    """The neutral sentence shown where a balance would be; None when the relay publishes one."""
    if publishes_balance(key):
        return None
    family = family_of_key(key)
    if family is not None and not family.publishes_balance:
        return _("This relay publishes no balance for keys.")
    # e.g. a LiteLLM proxy without a key database: /v1/models answered, /key/info did not
    return _("This relay gave no balance for this key, only whether it works.")


def key_facts(key: TrackedKey) -> dict:
    """What the key page says about the relay: family, missing balance or log, last reason."""
    balance_note = no_balance_note(key)
    return {
        "family": family_label(key),
        "no_balance": balance_note,
        "no_log": no_log_note(key),
        "reason_note": REASON_NOTES.get(key.error or ""),
        "validity_minutes": VALIDITY_INTERVAL // 60 if balance_note else None,
    }
