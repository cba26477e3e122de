"""Adding, finding and seeding providers; every base URL is normalised on the way in."""

from __future__ import annotations

from sqlalchemy import func, select

from app import db
from relay import BadBaseURL, normalise_base_url

from .models import Provider


class ProviderError(ValueError):
    """A provider change that cannot be made; `code` names the reason."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(code)
        self.code = code
        self.detail = detail


def add_provider(
    name: str, base_url: str, *, hidden: bool = False, cny_rate: float | None = None
) -> Provider:
    """Create a provider after checking the name, the URL and the rate."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ProviderError("bad_name")
    if find_provider(name, include_hidden=True) is not None:
        raise ProviderError("duplicate_name", name)
    try:
        url = normalise_base_url(base_url)
    except BadBaseURL as exc:
        raise ProviderError("bad_url", exc.code) from exc
    if cny_rate is not None and not 0 < cny_rate < 1000:
        raise ProviderError("bad_rate")
    provider = Provider(name=name, base_url=url, hidden=hidden, cny_rate=cny_rate)
    db.session.add(provider)
    db.session.commit()
    return provider


def remove_provider(name: str) -> None:
    """Delete a provider by name."""
    provider = find_provider(name, include_hidden=True)
    if provider is None:
        raise ProviderError("unknown_provider", name)
    db.session.delete(provider)
    db.session.commit()


def find_provider(name: str | None, *, include_hidden: bool = False) -> Provider | None:
    """A provider by (case-insensitive) name; hidden ones only when asked."""
    if not name:
        return None
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
            )
            added += 1
    return added
