"""Admin side of status: a provider's monitor settings, incident notes, notices."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from blueprints.providers.models import Provider
from blueprints.shared import no_store
from blueprints.shared.texts import KEY_INPUT_ERRORS
from database import db, utcnow

from .board import active_notices
from .models import Incident, IncidentNote, Notice
from .pages import labels
from .settings import LIMITS, SettingsError, configure, monitor_of, parse_models

ERRORS = {
    "too_many_models": _l("At most 10 probe models."),
    "bad_model": _l("A probe model name has characters a model id cannot have."),
    "out_of_range": _l("%(field)s must be a whole number from %(low)s to %(high)s."),
    "bad_key": KEY_INPUT_ERRORS["bad_key"],
    "missing_key": KEY_INPUT_ERRORS["missing_key"],
    "bad_notice": _l("A notice needs a title (up to 200 characters) and a valid duration."),
    "bad_note": _l("A note needs 1 to 2000 characters."),
}
FIELDS = tuple(LIMITS)


def _error(error: SettingsError) -> str:
    low, high = LIMITS.get(error.field, (0, 0))
    text = str(ERRORS.get(error.code, ERRORS["bad_model"]))
    return text % {"field": error.field, "low": low, "high": high} if "%(" in text else text


def settings_page(pid: int, status: int = 200, error: str | None = None, form=None):
    """The monitor form, the provider's incidents (with notes) and its notices."""
    provider = db.get_or_404(Provider, pid)
    monitor = monitor_of(provider)
    incidents = list(
        db.session.scalars(
            select(Incident)
            .where(Incident.provider_id == pid)
            .order_by(Incident.started_at.desc())
            .limit(20)
        )
    )
    notes: dict[int, list[IncidentNote]] = {}
    if incidents:
        query = select(IncidentNote).where(IncidentNote.incident_id.in_([i.id for i in incidents]))
        for note in db.session.scalars(query.order_by(IncidentNote.at)):
            notes.setdefault(note.incident_id, []).append(note)
    body = render_template(
        "status/admin.html",
        provider=provider,
        monitor=monitor,
        fields=FIELDS,
        limits=LIMITS,
        form=form,
        error=error,
        incidents=incidents,
        notes=notes,
        notices=active_notices([pid], utcnow()),
        labels=labels(),
    )
    return no_store(make_response(body, status))


def save_settings(pid: int, form):
    """Check and save the monitor form; the form comes back with the reason when refused."""
    provider = db.get_or_404(Provider, pid)
    try:
        numbers = {}
        for name in FIELDS:
            text = (form.get(name) or "").strip()
            if text:
                if not text.isdigit():
                    raise SettingsError("out_of_range", name)
                numbers[name] = int(text)
        key = (form.get("probe_key") or "").strip()
        configure(
            provider,
            enabled=form.get("enabled") == "1",
            public=form.get("public") == "1",
            models=parse_models(form.get("probe_models")),
            probe_key="" if form.get("clear_key") == "1" else (key or None),
            **numbers,
        )
    except SettingsError as error:
        db.session.rollback()
        return settings_page(pid, 400, _error(error), form)
    flash(_("Saved the monitor of %(name)s.", name=provider.name), "ok")
    return redirect(url_for("status.settings", pid=pid), code=303)


def add_notice(pid: int, form):
    """An announcement or maintenance window, for this provider or (scope=all) every provider."""
    db.get_or_404(Provider, pid)
    title = (form.get("title") or "").strip()
    kind = form.get("kind")
    hours = (form.get("hours") or "").strip()
    if not title or len(title) > 200 or kind not in ("announcement", "maintenance"):
        return settings_page(pid, 400, str(ERRORS["bad_notice"]))
    if hours and (not hours.isdigit() or not 0 < int(hours) <= 24 * 90):
        return settings_page(pid, 400, str(ERRORS["bad_notice"]))
    starts = utcnow()
    db.session.add(
        Notice(
            provider_id=None if form.get("scope") == "all" else pid,
            kind=kind,
            title=title,
            body=(form.get("body") or "").strip()[:4000],
            starts_at=starts,
            ends_at=starts + timedelta(hours=int(hours)) if hours else None,
        )
    )
    db.session.commit()
    flash(_("Notice published."), "ok")
    return redirect(url_for("status.settings", pid=pid), code=303)


def end_notice(notice_id: int):
    """End a notice now (it stays in the database, off the page)."""
    notice = db.get_or_404(Notice, notice_id)
    notice.ends_at = utcnow()
    db.session.commit()
    flash(_("Notice ended."), "ok")
    return redirect(_back(notice.provider_id), code=303)


def add_note(incident_id: int, form):
    """An update on an incident, shown on the status page."""
    incident = db.get_or_404(Incident, incident_id)
    body = (form.get("body") or "").strip()
    if not 0 < len(body) <= 2000:
        return settings_page(incident.provider_id, 400, str(ERRORS["bad_note"]))
    db.session.add(IncidentNote(incident_id=incident.id, body=body, at=utcnow()))
    db.session.commit()
    flash(_("Update added."), "ok")
    return redirect(url_for("status.settings", pid=incident.provider_id), code=303)


def _back(provider_id: int | None) -> str:
    if provider_id is None:
        return url_for("admin.providers")
    return url_for("status.settings", pid=provider_id)
