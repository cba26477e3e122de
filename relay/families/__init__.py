"""Relay families: one adapter module each; detection from cheap evidence, cached per base URL.

Adding a family is one new module here that defines FAMILY (or FAMILIES) plus its tests: the
registry below finds it, detection asks its detect_path, and admins can pick it by name.
"""

from __future__ import annotations

import importlib
import pkgutil

from .. import http
from ..balance import Balance
from ..calls import fan_out
from ..info import STATUS_CACHE, RelayInfo
from ..poll import poll_balance
from .base import BALANCE, LOG, REACHABILITY, VALIDITY, Family
from .detect import CACHE, UNSURE, by_address, detect, keyless

_SKIP = {"base", "detect", "dates"}


def _discover() -> dict[str, Family]:
    found: dict[str, Family] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name in _SKIP or module.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{module.name}")
        for family in getattr(mod, "FAMILIES", ()) or (getattr(mod, "FAMILY", None),):
            if isinstance(family, Family):
                found[family.name] = family
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


FAMILIES: dict[str, Family] = _discover()
AUTO = "auto"
KINDS = (AUTO, *FAMILIES)  # what an admin may pick; "auto" = detect
FALLBACK = FAMILIES["new-api"]  # nothing answered detection: the one-api chain reports why

__all__ = [
    "AUTO",
    "BALANCE",
    "CACHE",
    "FAMILIES",
    "KINDS",
    "LOG",
    "REACHABILITY",
    "UNSURE",
    "VALIDITY",
    "Family",
    "check",
    "detect",
    "lookup",
    "resolve",
]


def resolve(
    base_url: str, kind: str | None = AUTO, timeout=None, *, background: bool = False
) -> Family | None:
    """The admin's choice, else the cached or detected family; None when nothing answered."""
    if kind and kind != AUTO and kind in FAMILIES:
        return FAMILIES[kind]
    name = detect(base_url, FAMILIES.values(), timeout=timeout, background=background)
    return FAMILIES.get(name) if name else None


def lookup(base_url: str, key: str, *, kind: str | None = AUTO, timeout=http.DEFAULT_TIMEOUT):
    """A key's verdict and figures from whatever family the relay is (a person is waiting)."""
    if kind and kind != AUTO and kind in FAMILIES:
        family = FAMILIES[kind]
    else:
        known, name = CACHE.peek(base_url)
        status = STATUS_CACHE.peek(base_url)
        if not known and status is not None and status.answered and status.relay != "unknown":
            known, name = True, status.relay  # /api/status already said one-api or new-api
        family = by_address(base_url, FAMILIES.values())
        if not known and family is None:
            return _cold(base_url, key, timeout)
        family = family or (FAMILIES.get(name) if name else None)
    balance: Balance = (family or FALLBACK).lookup(base_url, key, timeout=timeout)
    balance.family = family.name if family else None
    return balance


def _cold(base_url: str, key: str, timeout) -> Balance:
    """First lookup at an address: the one-api chain and the other families' keyless questions
    go out together, so a one-api/new-api relay (the common case) still costs one round trip."""
    others = [f for f in FAMILIES.values() if f.detect_path != FALLBACK.detect_path]
    results = fan_out(
        {
            "chain": lambda: FALLBACK.lookup(base_url, key, timeout=timeout),
            "others": lambda: keyless(base_url, others, timeout),
        }
    )
    balance: Balance = results["chain"]
    if balance.info.answered and balance.info.relay != "unknown":
        name = balance.info.relay  # /api/status said one-api or new-api
    elif STATUS_CACHE.peek(base_url) is None or balance.info.fault in UNSURE:
        # /api/status was held back by a rate limit or failed in passing: it may well be
        # one-api/new-api, so the chain's answer stands and nothing is decided yet.
        return balance
    else:
        name = results["others"]
    CACHE.store(base_url, name)
    family = FAMILIES.get(name) if name else None
    if family is None or family.detect_path == FALLBACK.detect_path:
        balance.family = name
        return balance
    balance = family.lookup(base_url, key, timeout=timeout)
    balance.family = family.name
    return balance


def check(
    family: Family,
    base_url: str,
    key: str,
    info: RelayInfo | None,
    *,
    timeout=http.DEFAULT_TIMEOUT,
    prepaid: bool = False,
    background: bool = True,
) -> Balance:
    """A routine poll: the billing pair (under the caller's reservation) or the family's lookup.

    `background=False` when a person asked for it (a key's "refresh").
    """
    if family.poll_paths and info is not None:
        balance = poll_balance(
            base_url, key, info, timeout=timeout, prepaid=prepaid, background=background
        )
    else:
        balance = family.lookup(base_url, key, timeout=timeout)
    balance.family = family.name
    return balance
