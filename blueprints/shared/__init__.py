"""Helpers every feature uses, so no feature reaches into another's internals (not a blueprint).

`web` is re-exported here; the vault, the cache, the upsert, the texts, the error base and the
input parser (`inputs`: numbers, ids, dates, JSON depth) are imported from their own modules.
"""

from .web import json_attr, json_error, no_store, render_htmx, safe_next, wants_json

__all__ = ["json_attr", "json_error", "no_store", "render_htmx", "safe_next", "wants_json"]
