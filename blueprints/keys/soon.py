"""The first poll of a key just added, so its row fills in without waiting for the scheduler."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from flask import Flask, current_app

from .poller import poll_key

# Small on purpose: first polls are rare; the scheduler does the routine work.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="first-poll")


def poll_soon(key_id: int) -> Future | None:
    """Poll the key now: in the background (default), inline (tests) or not at all ("off")."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    mode = app.config.get("FIRST_POLL", "background")
    if mode == "off":
        return None
    if mode == "inline":
        poll_key(key_id)
        return None
    return _POOL.submit(_poll_in_context, app, key_id)


def _poll_in_context(app: Flask, key_id: int) -> None:
    with app.app_context():
        try:
            poll_key(key_id)
        except Exception:  # a failed first poll is retried by the scheduler; never crash a thread
            app.logger.exception("first poll failed for key #%s", key_id)
