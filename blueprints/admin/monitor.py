"""A provider's monitor form: status settings, notices, incident notes (via status's door)."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from blueprints import status
from blueprints.providers.models import Provider
from blueprints.shared import no_store
from blueprints.shared.inputs import BadValue, whole_number
from blueprints.shared.texts import KEY_INPUT_ERRORS
from database import db, utcnow

ERRORS = {
    "too_many_models": _l("At most 10 probe models."),
    "bad_model": _l("A probe model name has characters a model id cannot have."),
    "out_of_range": _l("%(field)s must be a whole number from %(low)s to %(high)s."),
    "bad_key": KEY_INPUT_ERRORS["bad_key"],
    "missing_key": KEY_INPUT_ERRORS["missing_key"],
    "bad_notice": _l("A notice needs a title (up to 200 characters) and a valid duration."),
    "bad_note": _l("A note needs 1 to 2000 characters."),
}
FIELDS = tuple(status.LIMITS)


def _error(error: status.SettingsError) -> str:
    low, high = status.LIMITS.get(error.field, (0, 0))
    text = str(ERRORS.get(error.code, ERRORS["bad_model"]))
    return text % {"field": error.field, "low": low, "high": high} if "%(" in text else text


def page(pid: int, code: int = 200, error: str | None = None, form=None):
    """The monitor form, the provider's incidents (with notes) and its notices."""
    provider = db.get_or_404(Provider, pid)
    incidents, notes = status.recent_incidents(pid)
    body = render_template(
        "admin/monitor.html",
        provider=provider,
        monitor=status.monitor_of(provider),
        fields=FIELDS,
        limits=status.LIMITS,
        form=form,
        error=error,
        incidents=incidents,
        notes=notes,
        notices=status.active_notices([pid], utcnow()),
        labels=status.labels(),
    )
    return no_store(make_response(body, code))


def save(pid: int, form):
    """Check and save the monitor form; the form comes back with the reason when refused."""
    provider = db.get_or_404(Provider, pid)
    try:
        numbers = {name: _number(form, name) for name in FIELDS}
        key = (form.get("probe_key") or "").strip()
        status.configure(
            provider,
            enabled=form.get("enabled") == "1",
            public=form.get("public") == "1",
            models=status.parse_models(form.get("probe_models")),
            probe_key="" if form.get("clear_key") == "1" else (key or None),
            **numbers,
        )
    except status.SettingsError as error:
        db.session.rollback()
        return page(pid, 400, _error(error), form)
    flash(_("Saved the monitor of %(name)s.", name=provider.name), "ok")
    return redirect(url_for("admin.monitor", pid=pid), code=303)


def _number(form, name: str) -> int | None:
    """A monitor field (blank: unchanged); out of its range → SettingsError, the form says why."""
    low, high = status.LIMITS[name]
    try:
        return whole_number(form.get(name), name, low=low, high=high)
    except BadValue:
        raise status.SettingsError("out_of_range", name) from None


def add_notice(pid: int, form):
    """An announcement or maintenance window, for this provider or (scope=all) every provider."""
    db.get_or_404(Provider, pid)
    try:
        status.publish_notice(
            None if form.get("scope") == "all" else pid,
            kind=form.get("kind"),
            title=(form.get("title") or "").strip(),
            body=(form.get("body") or "").strip(),
            hours=whole_number(form.get("hours"), "hours", low=1),
        )
    except BadValue:
        return page(pid, 400, _error(status.SettingsError("bad_notice")))
    except status.SettingsError as error:
        return page(pid, 400, _error(error))
    flash(_("Notice published."), "ok")
    return redirect(url_for("admin.monitor", pid=pid), code=303)


def end_notice(notice_id: int):
    """End a notice now; back to its provider's form (the provider list for a global one)."""
    notice = status.end_notice(notice_id)
    flash(_("Notice ended."), "ok")
    if notice.provider_id is None:
        return redirect(url_for("admin.providers"), code=303)
    return redirect(url_for("admin.monitor", pid=notice.provider_id), code=303)


def add_note(incident_id: int, form):
    """An update on an incident, shown on the status page."""
    incident = status.find_incident(incident_id)
    try:
        status.add_note(incident, (form.get("body") or "").strip())
    except status.SettingsError as error:
        return page(incident.provider_id, 400, _error(error))
    flash(_("Update added."), "ok")
    return redirect(url_for("admin.monitor", pid=incident.provider_id), code=303)
