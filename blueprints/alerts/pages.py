"""Rendering the alerts page and its fragments (the views stay one call long)."""

from __future__ import annotations

from flask import make_response, redirect, render_template, url_for
from flask_login import current_user

from blueprints.keys.family import no_balance_note
from blueprints.keys.service import my_keys
from blueprints.shared import no_store, render_htmx
from extensions import htmx

from . import service
from .texts import ERRORS

# Fragments that change the delivery log ask the log to reload itself.
LOG_CHANGED = {"HX-Trigger": "alerts-log-changed"}


def context(page=None, form=None, error: str | None = None) -> dict:
    """Everything the page shows for the logged-in user."""
    channels = service.channels_of(current_user)
    return {
        "channels": [(c, service.last_delivery(c)) for c in channels],
        "log": service.log_page(current_user, page),
        # Only kind and name come back into the form: the URL and secret carry the bot's token.
        "form": {k: (form or {}).get(k, "") for k in ("kind", "name")},
        "error": ERRORS.get(error) if error else None,
    }


def quiet_keys() -> list[tuple]:
    """The user's keys whose low-balance alert cannot fire, with the reason (no balance)."""
    keys = ((key, no_balance_note(key)) for key in my_keys(current_user))
    return [(key, note) for key, note in keys if note]


def index(page=None):
    """The whole page (or its partial for htmx)."""
    body = context(page) | {"quiet": quiet_keys()}
    return no_store(render_htmx("alerts/index.html", "alerts/_partial.html", **body))


def log(page):
    """The delivery log: the fragment for htmx, the page otherwise."""
    return no_store(render_htmx("alerts/index.html", "alerts/_log.html", **context(page)))


def added():
    """After a channel was added: the fresh channel list, or back to the page."""
    if not htmx:
        return redirect(url_for("alerts.index"), code=303)
    return no_store(make_response(render_template("alerts/_channels.html", **context())))


def refused(error: str, form):
    """The add form again with the reason, status 400."""
    body = context(form=form, error=error)
    return no_store(render_htmx("alerts/index.html", "alerts/_channels.html", 400, **body))


def row(channel):
    """One channel's row after an action; the log reloads itself."""
    if not htmx:
        return redirect(url_for("alerts.index"), code=303)
    last = service.last_delivery(channel)
    body = render_template("alerts/_channel_row.html", channel=channel, last=last)
    return no_store(make_response(body, 200, LOG_CHANGED))


def removed():
    """After a delete: an empty fragment (the row disappears), or back to the page."""
    if not htmx:
        return redirect(url_for("alerts.index"), code=303)
    return make_response("", 200, LOG_CHANGED)
