"""Provider admin: form parsing, the table's rows and the "test connection" probe."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from flask_babel import lazy_gettext as _l

import relay
from blueprints.providers.connect import connect
from blueprints.providers.models import Provider
from blueprints.providers.prices import parse_prices, prices_text, set_prices
from blueprints.providers.service import (
    ProviderError,
    add_provider,
    budget_text,
    edit_provider,
    family_of,
    key_counts,
    known_family,
    list_providers,
    parse_budget,
)
from blueprints.shared.inputs import BadValue, decimal
from database import db
from relay import http
from relay.calls import STATUS
from relay.families import BALANCE, LOG, REACHABILITY, VALIDITY
from relay.info import NEW_API_2025, NEW_API_2026, ONE_API, RelayInfo, fetch_status

ERRORS = {
    "bad_name": _l("The name must be 1-80 characters."),
    "duplicate_name": _l("A provider with that name exists already."),
    "bad_url": _l("The base URL must be an http(s) URL with a host, e.g. https://api.juheai.top"),
    "private_address": _l(
        "This address is on a private or local network (or stands for one), and keys are sent "
        "to it. Relays on the local network need ALLOW_PRIVATE_PROVIDERS = True in the config."
    ),
    "bad_rate": _l("The CNY rate must be a positive number (CNY paid per 1 USD of quota)."),
    "bad_budget": _l(
        "The request budget must be CALLS/SECONDS with positive whole numbers "
        "(e.g. 150/180), or 0 for no limit."
    ),
    "bad_prices": _l(
        "Price line %(line)s must read: model input output (prices per 1M tokens in the "
        "provider's money unit, e.g. gpt-4o 2.5 10)."
    ),
    "bad_kind": _l("Pick a relay family from the list, or Auto-detect."),
    "in_use": _l(
        "Tracked keys use this provider. Confirm that they and their history are deleted too."
    ),
}

GENERATIONS = {
    ONE_API: _l("one-api"),
    NEW_API_2025: _l("new-api (2025)"),
    NEW_API_2026: _l("new-api (2026)"),
    None: _l("unknown"),
}

PROBE_ERRORS = {
    http.TIMEOUT: _l("The relay did not answer in time."),
    http.UNREACHABLE: _l("Cannot connect to this address (wrong host or port, or it is down)."),
    http.RESET: _l("The connection was cut before the relay answered."),
    http.BLOCKED: _l(
        "relaydash does not call this provider: its address is on a private or local network."
    ),
    http.HTML: _l("This address answered with a web page, not the relay API."),
    http.NOT_FOUND: _l("No /api/status here: this is not a one-api or new-api relay."),
    http.MALFORMED: _l("The relay answered with something that is not JSON."),
    http.RATE_LIMITED: _l("The relay is rate-limiting us. Try again in a few minutes."),
    http.SERVER_ERROR: _l("The relay reported a server error."),
    http.DENIED: _l("The relay refused to show its status."),
    http.REJECTED: _l("The relay refused the request."),
    "not_relay": _l("This address answers JSON, but not like a one-api or new-api relay."),
    "budget": _l("This provider's request budget is used up for now. Try again in a minute."),
}

NOTHING = _l("Nothing answered at this address, so it is not known what relay this is.")
UNDECIDED = _l(
    "/api/status: %(problem)s A one-api or new-api relay answers there, so this may be one "
    "failing for now: the relay family is not decided yet. Test again in a while."
)
STATUS_NOTE = _l(
    "/api/status: %(problem)s A one-api or new-api relay answers there; other relays need not."
)


AUTO_LABEL = _l("Auto-detect")
# Family labels are product names; only the generic one is words to translate.
OPENAI_LABEL = _l("OpenAI-compatible")

# What a family can answer, in the order the test shows it.
ABILITIES = (
    (BALANCE, _l("Balance of a key")),
    (VALIDITY, _l("Whether a key works")),
    (LOG, _l("Request log of a key")),
    (REACHABILITY, _l("Whether the relay is up")),
)
YES, NO = _l("yes"), _l("no")
ACCOUNT_BALANCE = _l("yes — the account's balance, the same for every key of it")


def error_text(error: ProviderError) -> str:
    """The message for a refused provider change."""
    if error.code == "bad_prices":
        return ERRORS["bad_prices"] % {"line": error.detail}
    return str(ERRORS.get(error.code, ERRORS["bad_name"]))


def family_label(family: relay.Family | None) -> str:
    """A family's display name (None: not known)."""
    if family is None:
        return ""
    return str(OPENAI_LABEL) if family.name == "openai" else family.label


def kind_choices() -> list[tuple[str, str]]:
    """(value, label) for the form's "Relay family" select: Auto-detect, then each family."""
    return [(relay.AUTO, str(AUTO_LABEL))] + [
        (name, family_label(family)) for name, family in relay.FAMILIES.items()
    ]


def form_changes(form) -> dict:
    """Provider fields from a submitted add/edit form (ProviderError for bad values)."""
    budget = (form.get("budget") or "").strip()
    return {
        "name": form.get("name") or "",
        "base_url": form.get("base_url") or "",
        "hidden": form.get("hidden") in ("1", "on", "true"),
        "cny_rate": _rate(form.get("cny_rate")),
        "budget": parse_budget(budget) if budget else None,
        "kind": form.get("kind") or relay.AUTO,
    }


def save(provider: Provider | None, form) -> Provider:
    """Add (provider None) or edit a provider from a submitted form; a blank budget keeps it."""
    changes = form_changes(form)
    prices = parse_prices(form.get("prices"))  # checked before anything is saved
    if changes["budget"] is None:
        del changes["budget"]
    saved = add_provider(**changes) if provider is None else edit_provider(provider, **changes)
    set_prices(saved, prices)
    return saved


def _rate(text: str | None) -> float | None:
    try:
        return decimal(text, "cny_rate")
    except BadValue as exc:
        raise ProviderError("bad_rate") from exc


@dataclass(frozen=True)
class Row:
    """One provider as the table shows it."""

    provider: Provider
    keys: int
    budget: str
    family: str  # the family's label, "" when auto and not detected yet
    chosen: bool  # an admin named the family (no detection)


def rows() -> list[Row]:
    """Every provider with its tracked-key count, budget text and relay family."""
    counts = key_counts()
    return [
        Row(
            p,
            counts.get(p.id, 0),
            budget_text(p),
            family_label(known_family(p)),
            p.kind != relay.AUTO,
        )
        for p in list_providers()
    ]


def form_values(provider: Provider | None = None, *, form=None) -> dict:
    """What an add (empty), edit (current values) or refused (as sent) form shows."""
    if form is not None:
        fields = ("name", "base_url", "cny_rate", "budget", "prices", "kind")
        values = {field: (form.get(field) or "").strip() for field in fields}
        return {**values, "hidden": form.get("hidden") in ("1", "on", "true"), "detected": ""}
    if provider is None:
        return {
            "name": "",
            "base_url": "",
            "cny_rate": "",
            "budget": "150/180",
            "prices": "",
            "hidden": False,
            "kind": relay.AUTO,
            "detected": "",
        }
    detected = relay.FAMILIES.get(provider.detected_kind or "")
    return {
        "name": provider.name,
        "base_url": provider.base_url,
        "cny_rate": f"{provider.cny_rate:g}" if provider.cny_rate else "",
        "budget": budget_text(provider).removesuffix("s").replace("unlimited", "0"),
        "hidden": provider.hidden,
        "prices": prices_text(provider.id),
        "kind": provider.kind,
        "detected": family_label(detected) if provider.kind == relay.AUTO else "",
    }


@dataclass(frozen=True)
class Probe:
    """What "test connection" found at a provider's base URL."""

    provider: Provider
    ok: bool
    ms: int
    family: relay.Family | None = None  # what relaydash uses for this provider
    chosen: bool = False  # the family is the admin's override, not detected
    detected: relay.Family | None = None  # what the address answers like; None: nothing did
    abilities: tuple[tuple[str, str, bool, str], ...] = ()  # (name, label, yes, words)
    info: RelayInfo | None = None  # one-api/new-api: what /api/status said just now
    label: str = ""  # one-api/new-api generation
    error: str = ""
    note: str = ""  # /api/status trouble that does not stop this family from working
    http_status: int | None = None

    @property
    def family_label(self) -> str:
        """The family's display name."""
        return family_label(self.family)

    @property
    def detected_label(self) -> str:
        """The detected family's display name ("" when nothing answered)."""
        return family_label(self.detected)


def probe(provider: Provider) -> Probe:
    """Detect the family afresh, read /api/status now, and say what the relay can answer."""
    conn = connect(provider)
    started = time.monotonic()
    relay.FAMILY_CACHE.forget(conn.base_url)
    # Read /api/status first, never from the cache: detection then trusts this fresh answer
    # instead of one up to ten minutes old.
    info, status = fetch_status(conn.base_url, timeout=conn.timeout)
    family = family_of(provider, conn.timeout)
    chosen = provider.kind != relay.AUTO
    detected = relay.resolve(conn.base_url, relay.AUTO, conn.timeout) if chosen else family
    db.session.commit()  # keeps the detected_kind family_of noted
    found = Probe(
        provider,
        False,
        round((time.monotonic() - started) * 1000),
        family=family,
        chosen=chosen,
        detected=detected,
        abilities=_abilities(family),
        http_status=status.status,
    )
    return _verdict(found, info, status)


def _verdict(found: Probe, info: RelayInfo, status: http.Answer) -> Probe:
    """ok, the error or the note, and the /api/status details, from what answered."""
    held = status.kind == http.RATE_LIMITED and status.status is None
    status_kind = "budget" if held else status.kind
    if found.detected is None and not held and status.kind in relay.UNSURE:
        # the relay answered, but its status page failed: nothing can be decided from that
        return replace(found, error=str(UNDECIDED % {"problem": PROBE_ERRORS[status.kind]}))
    if found.detected is None and not held:
        reason = PROBE_ERRORS.get(status.kind, "")
        return replace(found, error=_nothing(reason))
    family = found.family
    if family is not None and family.detect_path == STATUS:
        # one-api / new-api: their status page is part of what they answer; it must work now.
        if not status.ok or not info.answered:
            kind = status_kind if not status.ok else "not_relay"
            return replace(found, error=str(PROBE_ERRORS.get(kind, PROBE_ERRORS[http.REJECTED])))
        label = str(GENERATIONS.get(info.generation, GENERATIONS[None]))
        return replace(found, ok=True, info=info, label=label)
    if found.detected is None:  # held: our budget kept /api/status back and nothing else spoke
        return replace(found, error=str(PROBE_ERRORS["budget"]))
    note = ""
    if status.kind not in (http.OK, http.NOT_FOUND, http.RATE_LIMITED):
        note = str(STATUS_NOTE % {"problem": PROBE_ERRORS.get(status.kind, "")})
    return replace(found, ok=True, note=note)


def _nothing(reason) -> str:
    return f"{NOTHING} {reason}".strip()


def _abilities(family: relay.Family | None) -> tuple[tuple[str, str, bool, str], ...]:
    """Each question and whether this family answers it, in plain words."""
    if family is None:
        return ()
    rows = []
    for name, label in ABILITIES:
        can = name in family.can
        words = YES if can else NO
        if can and name == BALANCE and family.scope == "account":
            words = ACCOUNT_BALANCE
        rows.append((name, str(label), can, str(words)))
    return tuple(rows)
