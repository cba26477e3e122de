"""Monitor settings per provider: checked, stored (the probe key encrypted), shown masked."""

from __future__ import annotations

import re

from blueprints.providers.models import Provider
from blueprints.shared.errors import Refusal
from blueprints.shared.vault import vault
from database import db
from relay.keys import BadKey, clean_key, mask

from .models import Due, Monitor

MAX_MODELS = 10
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
LIMITS = {  # field: (lowest, highest)
    "status_seconds": (30, 86_400),
    "light_seconds": (60, 86_400),
    "stream_seconds": (60, 86_400),
    "slow_ms": (100, 120_000),
    "ttft_slow_ms": (100, 120_000),
    "down_after": (1, 20),
    "up_after": (1, 20),
}


class SettingsError(Refusal):
    """A monitor setting that cannot be stored; `code` names it, `field` which one."""

    def __init__(self, code: str, field: str = ""):
        super().__init__(code)
        self.field = field


def monitor_of(provider: Provider) -> Monitor:
    """The provider's monitor row, or an unsaved one with the defaults (switched off)."""
    found = db.session.get(Monitor, provider.id)
    if found is not None:
        return found
    return Monitor(
        provider_id=provider.id,
        enabled=False,
        public=not provider.hidden,
        probe_models="",
        **{name: Monitor.__table__.c[name].default.arg for name in LIMITS},
    )


def parse_models(text: str | None) -> list[str]:
    """Probe models from "a, b" (SettingsError for a bad name or too many)."""
    models = [m for m in (part.strip() for part in (text or "").split(",")) if m]
    if len(models) > MAX_MODELS:
        raise SettingsError("too_many_models")
    if any(_MODEL.fullmatch(m) is None for m in models):
        raise SettingsError("bad_model")
    return list(dict.fromkeys(models))


def configure(provider: Provider, **changes) -> Monitor:
    """Change enabled, public, probe_key ("" clears), models (list) and LIMITS fields; commits."""
    unknown = set(changes) - {"enabled", "public", "probe_key", "models", *LIMITS}
    if unknown:
        raise TypeError(f"configure() got unexpected fields {sorted(unknown)}")
    monitor = monitor_of(provider)
    for name in LIMITS:
        if changes.get(name) is not None:
            low, high = LIMITS[name]
            value = changes[name]
            if not isinstance(value, int) or not low <= value <= high:
                raise SettingsError("out_of_range", name)
    secret = changes.get("probe_key")
    if secret:
        try:
            secret = clean_key(secret)
        except BadKey as error:
            raise SettingsError(error.code, "probe_key") from None
    # Everything is checked: now change the row.
    for name in LIMITS:
        if changes.get(name) is not None:
            setattr(monitor, name, changes[name])
    for flag in ("enabled", "public"):
        if changes.get(flag) is not None:
            setattr(monitor, flag, bool(changes[flag]))
    if changes.get("models") is not None:
        monitor.probe_models = ",".join(changes["models"])
    if secret is not None:
        monitor.probe_key = vault().encrypt(secret) if secret else None
        monitor.probe_masked = mask(secret) if secret else None
    db.session.add(monitor)
    # New settings take effect at the next pass, not after the old interval runs out.
    db.session.query(Due).filter(Due.provider_id == provider.id).delete()
    db.session.commit()
    return monitor
