"""My keys: list, add, edit, pause, delete (login required, owners only)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from . import pages, service
from .forms import MESSAGES, new_key, settings
from .service import KeyInputError
from .soon import poll_soon

bp = Blueprint("keys", __name__, url_prefix="/keys")


@bp.before_request
@login_required
def _members_only() -> None:
    """Every page here needs a login."""


@bp.get("")
def index():
    """My keys (the table alone for htmx polling)."""
    return pages.index()


@bp.post("")
def add():
    """Track a new key; it is stored encrypted and polled at once."""
    try:
        tracked = service.add_key(current_user, **new_key(request.form))
    except KeyInputError as error:
        return pages.refused(error.code, request.form)
    poll_soon(tracked.id)
    return redirect(url_for("keys.index"), code=303)


@bp.get("/<id:key_id>")
def detail(key_id: int):
    """One key: its settings and history."""
    return pages.detail(service.owned_key(current_user, key_id))


@bp.post("/<id:key_id>")
def edit(key_id: int):
    """Change a key's label, threshold, warning days or interval."""
    tracked = service.owned_key(current_user, key_id)
    try:
        service.edit_key(tracked, **settings(request.form))
    except KeyInputError as error:
        return pages.detail(tracked, 400, str(MESSAGES[error.code]))
    return redirect(url_for("keys.detail", key_id=key_id), code=303)


@bp.post("/<id:key_id>/pause")
def pause(key_id: int):
    """Pause or resume polling."""
    tracked = service.owned_key(current_user, key_id)
    service.set_paused(tracked, request.form.get("paused") != "0")
    back = request.form.get("back") == "list"
    target = url_for("keys.index") if back else url_for("keys.detail", key_id=key_id)
    return redirect(target, code=303)


@bp.get("/<id:key_id>/delete")
def confirm_delete(key_id: int):
    """Ask before purging a key and its history."""
    tracked = service.owned_key(current_user, key_id)
    return render_template("keys/delete.html", k=tracked)


@bp.post("/<id:key_id>/delete")
def delete(key_id: int):
    """Purge the ciphertext and all history."""
    service.delete_key(service.owned_key(current_user, key_id))
    return redirect(url_for("keys.index"), code=303)
