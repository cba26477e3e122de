"""Whose key a run uses: one of my tracked keys (decrypted here) or a pasted one (never kept)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from flask import current_app, session
from flask_login import current_user

from blueprints.keys.models import TrackedKey
from blueprints.keys.service import my_keys
from blueprints.providers.models import Provider
from blueprints.providers.service import find_provider, list_providers
from blueprints.shared.inputs import row_id
from blueprints.shared.vault import InvalidToken, vault
from database import db
from relay.keys import BadKey, clean_key, mask

from .build import BadRun


@dataclass
class Source:
    """A provider and the key to use on it, for this request only."""

    provider: Provider
    key: str = field(repr=False)
    masked: str


def owner() -> str:
    """Who runs belong to: the user, or (public playground) this browser session."""
    if current_user.is_authenticated:
        return "user:" + current_user.get_id()
    if "playground" not in session:
        session["playground"] = secrets.token_urlsafe(16)
    return "session:" + session["playground"]


def providers() -> list[Provider]:
    """Providers a run may use: all of them for members, the public ones for guests."""
    return list_providers(include_hidden=current_user.is_authenticated)


def my_tracked() -> list[TrackedKey]:
    """The user's tracked keys (none for guests), the ones that can answer first: the select
    preselects its first option, which must not be a disabled, expired or used-up key."""
    keys = my_keys(current_user) if current_user.is_authenticated else []
    return sorted(keys, key=lambda k: not usable(k))  # stable: the user's order otherwise


def usable(key: TrackedKey) -> bool:
    """Not paused and not known dead (a key not polled yet may well work)."""
    return not key.paused and key.status in (None, "active", "rate_limited", "unreachable", "error")


def resolve(form) -> Source:
    """The Source a submitted form names (BadRun when it names none we may use)."""
    if form.get("source") == "tracked":
        return _tracked(form.get("key_id"))
    try:
        key = clean_key(form.get("key"))
    except BadKey as error:
        raise BadRun(error.code) from None
    name = form.get("provider")
    if not name:
        raise BadRun("missing_provider")
    return Source(_provider(name), key, mask(key))


def _owned(key_id: str | None) -> TrackedKey:
    """One of the user's tracked keys by id (BadRun for guests, bad ids and others' keys)."""
    number = row_id(key_id)
    if not current_user.is_authenticated or number is None:
        raise BadRun("unknown_key")
    tracked = db.session.get(TrackedKey, number)
    if tracked is None or tracked.user_id != current_user.id:
        raise BadRun("unknown_key")
    return tracked


def _provider(name: str | None) -> Provider:
    """A configured provider (hidden ones for members only), or BadRun."""
    provider = find_provider(name, include_hidden=current_user.is_authenticated)
    if provider is None:
        raise BadRun("unknown_provider")
    return provider


def _tracked(key_id: str | None) -> Source:
    tracked = _owned(key_id)
    try:
        secret = vault().decrypt(tracked.ciphertext)
    except InvalidToken:
        current_app.logger.warning("playground: tracked key %s cannot be decrypted", tracked.id)
        raise BadRun("undecryptable") from None
    return Source(tracked.provider, secret, tracked.masked)


def base_url_of(form) -> str:
    """The provider URL a form points at, without needing (or decrypting) its key."""
    if form.get("source") == "tracked":
        return _owned(form.get("key_id")).provider.base_url
    return _provider(form.get("provider")).base_url
