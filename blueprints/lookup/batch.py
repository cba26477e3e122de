"""Many keys at once: bounded concurrency per provider, results as they arrive, CSV of the table."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

from flask import Flask, current_app
from itsdangerous import BadData, URLSafeSerializer

import relay
from blueprints.providers.models import Provider
from relay.keys import mask

from .present import iso, published, status_label
from .service import lookup_key

# Key-level jobs get their own pool: each one waits on relay calls running in relay's pool.
_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="batch")
_GATES: dict[str, threading.BoundedSemaphore] = {}
_GATES_LOCK = threading.Lock()
CSV_HEADER = ("key", "status", "remaining", "used", "total", "unit", "expires_at", "models")


def _gate(base_url: str, size: int) -> threading.BoundedSemaphore:
    """One semaphore per relay, shared by every batch, so a relay sees at most `size` lookups."""
    with _GATES_LOCK:
        if base_url not in _GATES:
            _GATES[base_url] = threading.BoundedSemaphore(size)
        return _GATES[base_url]


def run(provider: Provider, keys: list[str]) -> Iterator[tuple[int, relay.Balance]]:
    """Yield (index, balance) for each key in the order lookups finish."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    gate = _gate(provider.base_url, int(app.config["BATCH_CONCURRENCY"]))

    def one(index: int, key: str) -> tuple[int, relay.Balance]:
        with gate, app.app_context():
            return index, lookup_key(provider, key)

    futures = [_POOL.submit(one, i, key) for i, key in enumerate(keys)]
    for future in as_completed(futures):
        yield future.result()


def row(key: str, balance: relay.Balance) -> dict:
    """One table row: masked key and the figures (never the key itself)."""
    return {
        "key": mask(key),
        "status": balance.status,
        "reason": balance.reason,
        "label": status_label(balance),
        "family": balance.family,
        "balance_published": published(balance),
        "remaining": balance.remaining,
        "used": balance.used,
        "total": balance.total,
        "unit": balance.unit,
        "unlimited": balance.unlimited,
        "expires_at": iso(balance.expires_at),
        "expiry_stated": balance.expiry_stated,
        "models": len(balance.models) if balance.models is not None else None,
    }


# What the CSV needs of a row: masked key and figures (the row's other fields are for the page).
CSV_FIELDS = (
    "key",
    "status",
    "remaining",
    "used",
    "total",
    "unit",
    "unlimited",
    "expires_at",
    "expiry_stated",
    "models",
)


def _sealer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="relaydash.batch-csv")


def seal_table(rows: list[dict]) -> str:
    """A finished table (masked keys only) as a signed, compressed string for the page to post
    back: the CSV is rebuilt from the request, so any worker on any machine can answer it and no
    server keeps the table. Signed, so the CSV endpoint renders only tables we made."""
    return _sealer().dumps([[item[field] for field in CSV_FIELDS] for item in rows])


def open_table(sealed: str) -> list[dict] | None:
    """The rows of seal_table() again; None when the string is not one of ours."""
    try:
        values = _sealer().loads(sealed)
    except BadData:
        return None
    if not isinstance(values, list):
        return None
    return [dict(zip(CSV_FIELDS, item, strict=True)) for item in values]


def table_csv(rows: list[dict]) -> bytes:
    """The batch table as CSV (UTF-8 with BOM), masked keys only."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for item in rows:
        remaining = "unlimited" if item["unlimited"] else item["remaining"]
        writer.writerow(
            (
                item["key"],
                item["status"],
                "" if remaining is None else remaining,
                "" if item["used"] is None else item["used"],
                "" if item["total"] is None else item["total"],
                item["unit"] or "",
                _expiry(item),
                "" if item["models"] is None else item["models"],
            )
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _expiry(item: dict) -> str:
    """A date, "never" when the relay said so, or empty when it did not say."""
    if item["expires_at"]:
        return item["expires_at"]
    return "never" if item.get("expiry_stated") else ""
