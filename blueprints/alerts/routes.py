"""Alert channels, test sends and the delivery log (login required, own channels only)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from flask_login import current_user, login_required

from extensions import limiter

from . import pages, service
from .texts import ui_text

bp = Blueprint("alerts", __name__, url_prefix="/alerts")
bp.context_processor(ui_text)


@bp.get("")
@login_required
def index():
    """My channels and my delivery log."""
    return pages.index(request.args.get("page"))


@bp.get("/log")
@login_required
def log():
    """One page of my delivery log."""
    return pages.log(request.args.get("page"))


@bp.post("/channels")
@login_required
def add():
    """Add a channel (the URL is checked, then stored encrypted)."""
    try:
        service.add_channel(current_user, request.form)
    except service.ChannelError as error:
        return pages.refused(error.code, request.form)
    return pages.added()


@bp.post("/channels/<id:channel_id>/enabled")
@login_required
def set_enabled(channel_id: int):
    """Switch a channel on (enabled=1) or off."""
    channel = service.channel_of(current_user, channel_id)
    service.set_enabled(channel, request.form.get("enabled") == "1")
    return pages.row(channel)


@bp.post("/channels/<id:channel_id>/status-changes")
@login_required
def set_status_changes(channel_id: int):
    """Admins: also send provider status changes (the status page's probes) to this channel."""
    channel = service.channel_of(current_user, channel_id)
    if not current_user.is_admin:
        abort(403)
    service.set_status_changes(channel, request.form.get("status_changes") == "1")
    return pages.row(channel)


def _per_user() -> str:
    return f"user:{current_user.get_id()}"


@bp.post("/channels/<id:channel_id>/test")
@login_required
@limiter.limit(lambda: current_app.config["ALERTS_TEST_RATE_LIMIT"], key_func=_per_user)
def test(channel_id: int):
    """Send a test message now; the row shows how it went."""
    channel = service.channel_of(current_user, channel_id)
    service.send_test(channel)
    return pages.row(channel)


@bp.post("/channels/<id:channel_id>/delete")
@login_required
def delete(channel_id: int):
    """Delete a channel and its deliveries (the button asks first)."""
    service.delete_channel(service.channel_of(current_user, channel_id))
    return pages.removed()
