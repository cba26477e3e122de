"""Adding, editing, finding, removing and seeding providers; base URLs normalised on the way in."""

from __future__ import annotations

import re

from sqlalchemy import column, delete, func, select, table

import relay
from blueprints.shared.errors import Refusal
from database import db
from relay import BadBaseURL, guard, normalise_base_url

from .models import Provider

DEFAULT_BUDGET = (150, 180)
MAX_BUDGET_CALLS = 100_000
MAX_BUDGET_SECONDS = 86_400
# Bounded digit counts: int() refuses more than 4300 digits, and no sane budget needs more than 9.
_BUDGET = re.compile(r"([0-9]{1,9})\s*/\s*([0-9]{1,9})\s*s?")

# Tracked keys point at providers, not the reverse: a bare table construct lets us count and
# delete them without importing the keys feature (which imports this one).
_TRACKED_KEY = table("tracked_key", column("id"), column("provider_id"))


class ProviderError(Refusal):
    """A provider change that cannot be made; `code` names the reason."""

    def __init__(self, code: str, detail: str = "", *, count: int = 0):
        super().__init__(code)
        self.detail = detail
        self.count = count


def parse_budget(text: str | None) -> tuple[int, int]:
    """(calls, seconds) from "150/180" (or "150/180s"); "0" means no limit."""
    text = (text or "").strip().lower()
    if text == "0":
        return 0, DEFAULT_BUDGET[1]
    match = _BUDGET.fullmatch(text)
    if match is None:
        raise ProviderError("bad_budget", text)
    calls, seconds = int(match[1]), int(match[2])
    if not (0 < calls <= MAX_BUDGET_CALLS and 0 < seconds <= MAX_BUDGET_SECONDS):
        raise ProviderError("bad_budget", text)
    return calls, seconds


def budget_text(provider: Provider) -> str:
    """ "150/180s" or "unlimited" (the form parse_budget reads back, bar "unlimited")."""
    if not provider.request_budget:
        return "unlimited"
    return f"{provider.request_budget}/{provider.budget_seconds}s"


def kind_text(provider: Provider) -> str:
    """ "auto", "auto: litellm" (auto, detected) or "litellm" (the admin's choice)."""
    if provider.kind == relay.AUTO and provider.detected_kind:
        return f"{relay.AUTO}: {provider.detected_kind}"
    return provider.kind


def add_provider(
    name: str,
    base_url: str,
    *,
    hidden: bool = False,
    cny_rate: float | None = None,
    budget: tuple[int, int] | None = None,
    kind: str = relay.AUTO,
) -> Provider:
    """Create a provider after checking the name, the URL, the rate, the budget and the kind."""
    name = _check_name(name, None)
    url = _check_url(base_url)
    _check_rate(cny_rate)
    calls, seconds = _check_budget(budget or DEFAULT_BUDGET)
    kind = _check_kind(kind)
    provider = Provider(
        name=name,
        base_url=url,
        hidden=hidden,
        cny_rate=cny_rate,
        request_budget=calls,
        budget_seconds=seconds,
        kind=kind,
    )
    db.session.add(provider)
    db.session.commit()
    apply_budget(provider)
    return provider


def edit_provider(provider: Provider, **changes) -> Provider:
    """Change name, base_url, hidden, cny_rate (None clears it), budget=(calls, seconds), kind."""
    unknown = set(changes) - {"name", "base_url", "hidden", "cny_rate", "budget", "kind"}
    if unknown:
        raise TypeError(f"edit_provider() got unexpected fields {sorted(unknown)}")
    # Check everything before touching the row, so a refusal changes nothing.
    name = _check_name(changes["name"], provider) if "name" in changes else provider.name
    url = _check_url(changes["base_url"]) if "base_url" in changes else provider.base_url
    rate = changes.get("cny_rate", provider.cny_rate)
    _check_rate(rate)
    old_url, old_budget = provider.base_url, (provider.request_budget, provider.budget_seconds)
    budget = _check_budget(changes["budget"]) if "budget" in changes else old_budget
    kind = _check_kind(changes["kind"]) if "kind" in changes else provider.kind
    moved = (url, kind) != (old_url, provider.kind)
    provider.name, provider.base_url, provider.cny_rate = name, url, rate
    provider.request_budget, provider.budget_seconds = budget
    provider.kind = kind
    if "hidden" in changes:
        provider.hidden = bool(changes["hidden"])
    if moved:
        provider.detected_kind = None  # it described the old address or the old choice
    db.session.commit()
    if moved:
        # Detection runs again at both addresses: the old one may now be reached as another
        # provider, and the new one must not inherit what was cached before the change.
        relay.FAMILY_CACHE.forget(old_url)
        relay.FAMILY_CACHE.forget(url)
    if (url, budget) != (old_url, old_budget):
        apply_budget(provider)
    return provider


def keys_using(provider: Provider) -> int:
    """How many tracked keys use this provider."""
    query = select(func.count()).select_from(_TRACKED_KEY)
    return db.session.scalar(query.where(_TRACKED_KEY.c.provider_id == provider.id)) or 0


def key_counts() -> dict[int, int]:
    """Tracked keys per provider id (providers without keys are absent)."""
    query = select(_TRACKED_KEY.c.provider_id, func.count()).group_by(_TRACKED_KEY.c.provider_id)
    return {provider_id: count for provider_id, count in db.session.execute(query)}


def delete_provider(provider: Provider, *, force: bool = False) -> int:
    """Delete a provider (with force: its tracked keys and their history too); keys deleted."""
    count = keys_using(provider)
    if count and not force:
        raise ProviderError("in_use", provider.name, count=count)
    if count:
        # Samples, usage records and alert states go with the keys (ON DELETE CASCADE).
        db.session.execute(delete(_TRACKED_KEY).where(_TRACKED_KEY.c.provider_id == provider.id))
    db.session.delete(provider)
    db.session.commit()
    return count


def remove_provider(name: str, *, force: bool = False) -> int:
    """Delete a provider by name (see delete_provider)."""
    provider = find_provider(name, include_hidden=True)
    if provider is None:
        raise ProviderError("unknown_provider", name)
    return delete_provider(provider, force=force)


def find_provider(name: str | None, *, include_hidden: bool = False) -> Provider | None:
    """A provider by (case-insensitive) name; hidden ones only when asked."""
    if not name or "\x00" in name:
        return None  # no name holds a NUL (PostgreSQL could not even compare one)
    query = select(Provider).where(func.lower(Provider.name) == name.strip().lower())
    if not include_hidden:
        query = query.where(Provider.hidden.is_(False))
    return db.session.scalars(query).first()


def list_providers(*, include_hidden: bool = True) -> list[Provider]:
    """All providers in the order they were added."""
    query = select(Provider).order_by(Provider.id)
    if not include_hidden:
        query = query.where(Provider.hidden.is_(False))
    return list(db.session.scalars(query))


def seed_defaults(entries: list[dict]) -> int:
    """Add the configured default providers (skipping any whose name exists)."""
    added = 0
    for entry in entries:
        if find_provider(entry.get("name"), include_hidden=True) is None:
            add_provider(
                entry["name"],
                entry["base_url"],
                hidden=bool(entry.get("hidden", False)),
                cny_rate=entry.get("cny_rate"),
                kind=entry.get("kind") or relay.AUTO,
            )
            added += 1
    return added


def _check_name(name: str | None, provider: Provider | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ProviderError("bad_name")
    other = find_provider(name, include_hidden=True)
    if other is not None and other is not provider:
        raise ProviderError("duplicate_name", name)
    return name


def _check_url(base_url: str | None) -> str:
    try:
        url = normalise_base_url(base_url)
    except BadBaseURL as exc:
        raise ProviderError("bad_url", exc.code) from exc
    except ValueError as exc:  # urlsplit's own refusals, e.g. "http://[::1"
        raise ProviderError("bad_url", "invalid") from exc
    if len(url) > 255:
        raise ProviderError("bad_url", "too_long")
    try:
        guard.check_url(url, allow_private=guard.PROVIDERS())
    except guard.Blocked as refused:
        # A name that does not resolve today may tomorrow: every call is checked again anyway.
        if refused.code != "unresolvable":
            raise ProviderError("private_address", url) from refused
    return url


def _check_rate(cny_rate: float | None) -> None:
    if cny_rate is not None and not 0 < cny_rate < 1000:
        raise ProviderError("bad_rate")


def _check_kind(kind: str | None) -> str:
    kind = (kind or relay.AUTO).strip().lower()
    if kind not in relay.KINDS:
        raise ProviderError("bad_kind", kind[:40])
    return kind


def _check_budget(budget: tuple[int, int]) -> tuple[int, int]:
    calls, seconds = budget
    if calls == 0:
        return 0, seconds or DEFAULT_BUDGET[1]
    if not (0 < calls <= MAX_BUDGET_CALLS and 0 < seconds <= MAX_BUDGET_SECONDS):
        raise ProviderError("bad_budget", f"{calls}/{seconds}")
    return calls, seconds


def apply_budget(provider: Provider) -> None:
    """Make this process count calls to the provider against its configured request budget."""
    # Takes effect at once and keeps the calls already counted (clearing would forget them and
    # let a burst through). /api/status and the family are cached per URL; edit_provider forgets
    # the family when the URL or the kind changes.
    relay.BUDGETS.configure(provider.base_url, provider.request_budget, provider.budget_seconds)


def family_of(provider: Provider, timeout=None, *, background: bool = False) -> relay.Family | None:
    """The provider's relay family: the admin's choice, else detected (cached per base URL).

    Notes what was detected on the row (the caller's commit keeps it) so pages can name the
    family without asking the relay; None when nothing at the address answered yet.
    """
    family = relay.resolve(provider.base_url, provider.kind, timeout, background=background)
    if family is not None and provider.kind == relay.AUTO and provider.detected_kind != family.name:
        provider.detected_kind = family.name
    return family


def known_family(provider: Provider) -> relay.Family | None:
    """The family as far as the database knows (no relay call): chosen, else last detected."""
    name = provider.kind if provider.kind != relay.AUTO else provider.detected_kind
    return relay.FAMILIES.get(name or "")
